// Entry of the run page (/runs/<id>): mounts on #run-root with the boot data of the template.
import { createRoot } from "react-dom/client";
import { RunPage, type Boot } from "./RunPage";
import "./run.css";

const root = document.getElementById("run-root");
const boot = document.getElementById("run-boot");
if (root && boot) {
  createRoot(root).render(<RunPage boot={JSON.parse(boot.textContent || "{}") as Boot} />);
}
