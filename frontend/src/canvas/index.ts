// The reusable canvas. See frontend/README.md.
import "@xyflow/react/dist/style.css";
import "./canvas.css";

export { WorkflowCanvas, GRID } from "./WorkflowCanvas";
export type { WorkflowCanvasProps } from "./WorkflowCanvas";
export { WorkflowPreview } from "./Preview";
export { mountCanvas } from "./mount";
export type { CanvasHandle, MountOptions } from "./mount";
export { docToFlow, flowToDoc, toFlowEdge, toFlowNode, edgeId, SCHEMA } from "./convert";
export type { FlowEdge, FlowNode } from "./convert";
export { inputHandles, outputHandles, dynamicHandles } from "./handles";
export type { DocEdge, DocNode, WorkflowDocument } from "./handles";
export { autoLayout } from "./layout";
export { iconFor } from "./icons";
export type { NodeNote } from "./context";
