// Entry of the executions page (/runs): every run of the caller's workspaces.
import { createRoot } from "react-dom/client";
import { Executions, type Boot } from "./Executions";
import "../run/run.css";

const root = document.getElementById("executions-root");
const boot = document.getElementById("executions-boot");
if (root && boot) {
  createRoot(root).render(<Executions boot={JSON.parse(boot.textContent || "{}") as Boot} />);
}
