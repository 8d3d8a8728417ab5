// For pages that are not React: mountCanvas(element, options) draws a read-only workflow and
// returns a handle to drive it (live statuses from the websocket, a new document, unmount).
import { createRoot } from "react-dom/client";
import type { NodeTypeInfo, ValidationIssue } from "../lib/api";
import type { WorkflowDocument } from "./handles";
import { WorkflowPreview } from "./Preview";

export type MountOptions = {
  document: Pick<WorkflowDocument, "nodes" | "edges">;
  statuses?: Record<string, string>;
  issues?: ValidationIssue[];
  nodeTypes?: NodeTypeInfo[];
  minimap?: boolean;
  onNodeClick?: (nodeId: string) => void;
};

export type CanvasHandle = {
  setStatuses(statuses: Record<string, string>): void;
  setStatus(nodeId: string, status: string): void;
  setDocument(document: MountOptions["document"]): void;
  unmount(): void;
};

export function mountCanvas(element: HTMLElement, options: MountOptions): CanvasHandle {
  const root = createRoot(element);
  let state: MountOptions = { ...options, statuses: { ...(options.statuses ?? {}) } };
  const render = () => root.render(<WorkflowPreview {...state} />);
  render();
  return {
    setStatuses(statuses) {
      state = { ...state, statuses: { ...statuses } };
      render();
    },
    setStatus(nodeId, status) {
      state = { ...state, statuses: { ...state.statuses, [nodeId]: status } };
      render();
    },
    setDocument(document) {
      state = { ...state, document };
      render();
    },
    unmount() {
      root.unmount();
    },
  };
}
