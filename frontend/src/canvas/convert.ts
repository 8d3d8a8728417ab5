// A `switchyard.workflow/1` document <-> React Flow nodes and edges.
import type { Edge, Node } from "@xyflow/react";
import type { DocEdge, DocNode, WorkflowDocument } from "./handles";
import { autoLayout } from "./layout";

export type FlowNodeData = { node: DocNode };
export type FlowEdgeData = { edge: DocEdge };
export type FlowNode = Node<FlowNodeData, "workflow">;
export type FlowEdge = Edge<FlowEdgeData>;

export const SCHEMA = "switchyard.workflow/1";

export function edgeId(e: DocEdge, taken?: Set<string>): string {
  const base = `${e.source}:${e.source_handle || "main"}->${e.target}:${e.target_handle || "main"}`;
  if (!taken) return base;
  let id = base;
  for (let i = 2; taken.has(id); i++) id = `${base}#${i}`;
  taken.add(id);
  return id;
}

export function toFlowNode(n: DocNode, position?: [number, number]): FlowNode {
  const [x, y] = position ?? n.position ?? [0, 0];
  return { id: n.id, type: "workflow", position: { x, y }, data: { node: n } };
}

export function toFlowEdge(e: DocEdge, id: string): FlowEdge {
  return {
    id,
    source: e.source,
    target: e.target,
    sourceHandle: e.source_handle || "main",
    targetHandle: e.target_handle || "main",
    data: { edge: e },
    className: (e.source_handle || "main") === "error" ? "sy-edge-error" : undefined,
    label: e.mapping && Object.keys(e.mapping).length ? "{ }" : undefined,
  };
}

export function docToFlow(doc: Pick<WorkflowDocument, "nodes" | "edges">): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const docNodes = Array.isArray(doc.nodes) ? doc.nodes.filter((n) => n && typeof n === "object") : [];
  const docEdges = Array.isArray(doc.edges) ? doc.edges.filter((e) => e && typeof e === "object") : [];
  // positions missing, or defaulted (export writes [0, 0] for every node without one)
  const spots = new Set(docNodes.map((n) => (Array.isArray(n.position) ? n.position.join(",") : "")));
  const missing = docNodes.some((n) => !Array.isArray(n.position)) || spots.size < docNodes.length;
  const laid = missing ? autoLayout(docNodes, docEdges) : {};
  // a document written without positions (API, import) is laid out as a whole
  const nodes = docNodes.map((n) => toFlowNode(n, missing ? laid[n.id] : n.position));
  const taken = new Set<string>();
  const edges = docEdges.map((e) => toFlowEdge(e, edgeId(e, taken)));
  return { nodes, edges };
}

/** The document's nodes and edges as drawn (positions from the canvas). */
export function flowToDoc(nodes: FlowNode[], edges: FlowEdge[]): { nodes: DocNode[]; edges: DocEdge[] } {
  return {
    nodes: nodes.map((n) => ({ ...n.data.node, position: [Math.round(n.position.x), Math.round(n.position.y)] })),
    edges: edges.map((e) => {
      const base = e.data?.edge ?? { source: e.source, target: e.target };
      const out: DocEdge = { ...base, source: e.source, target: e.target };
      const sh = e.sourceHandle || "main";
      const th = e.targetHandle || "main";
      if (sh !== "main" || base.source_handle) out.source_handle = sh;
      else delete out.source_handle;
      if (th !== "main" || base.target_handle) out.target_handle = th;
      else delete out.target_handle;
      return out;
    }),
  };
}
