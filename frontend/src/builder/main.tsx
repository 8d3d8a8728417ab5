// Entry of the builder page (/workflows/new, /workflows/<id>/edit).
import { createRoot } from "react-dom/client";
import "../canvas";
import "./builder.css";
import { App, type Boot } from "./App";

const el = document.getElementById("builder-root");
const bootEl = document.getElementById("builder-boot");
if (el) {
  const boot: Boot = bootEl ? JSON.parse(bootEl.textContent || "{}") : { workflow_id: null, can_write: true, templates: [] };
  createRoot(el).render(<App boot={boot} />);
}
