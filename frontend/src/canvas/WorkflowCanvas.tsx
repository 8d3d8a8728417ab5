// The canvas: React Flow with our node renderer, minimap, controls, snap-to-grid. Controlled:
// the caller owns `nodes`/`edges` (see docToFlow). `statuses` ({node_id: status}) drives each
// node's `data-status`; `issues` (SPEC §2 errors) mark nodes; `readOnly` turns editing off.
import { useMemo, useState, type ReactNode } from "react";
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  type ReactFlowProps,
} from "@xyflow/react";
import type { NodeTypeInfo, ValidationIssue } from "../lib/api";
import { CanvasContext, type NodeNote } from "./context";
import type { FlowEdge, FlowNode } from "./convert";
import { WorkflowNode } from "./WorkflowNode";

const NODE_TYPES = { workflow: WorkflowNode };
export const GRID = 20;

export type WorkflowCanvasProps = {
  nodes: FlowNode[];
  edges: FlowEdge[];
  nodeTypes: NodeTypeInfo[] | Record<string, NodeTypeInfo>;
  statuses?: Record<string, string>;
  issues?: ValidationIssue[];
  readOnly?: boolean;
  minimap?: boolean;
  /** Optional per-node annotations (hover title, detail line, badge, pinned). */
  notes?: Record<string, NodeNote>;
  /** Ids of edges that carried data: drawn animated. */
  activeEdges?: string[];
  children?: ReactNode;
} & Omit<ReactFlowProps<FlowNode, FlowEdge>, "nodes" | "edges" | "nodeTypes">;

const NO_STATUSES: Record<string, string> = {};

export function WorkflowCanvas({
  nodes,
  edges,
  nodeTypes,
  statuses = NO_STATUSES,
  issues,
  readOnly = false,
  minimap = true,
  notes,
  activeEdges,
  children,
  ...flowProps
}: WorkflowCanvasProps) {
  const drawnEdges = useMemo(() => {
    if (!activeEdges?.length) return edges;
    const active = new Set(activeEdges);
    return edges.map((e) =>
      active.has(e.id) ? { ...e, animated: true, className: `${e.className ?? ""} sy-edge-active`.trim() } : e,
    );
  }, [edges, activeEdges]);
  // fit once on open when there is something to fit; an empty canvas keeps the drop point
  const [fitOnOpen] = useState(() => nodes.length > 0);
  const types = useMemo(() => {
    if (!Array.isArray(nodeTypes)) return nodeTypes;
    return Object.fromEntries(nodeTypes.map((t) => [t.type, t]));
  }, [nodeTypes]);
  const issuesByNode = useMemo(() => {
    const out: Record<string, ValidationIssue[]> = {};
    for (const issue of issues ?? []) if (issue.node) (out[issue.node] ??= []).push(issue);
    return out;
  }, [issues]);
  const usedHandles = useMemo(() => {
    const out: Record<string, string[]> = {};
    for (const e of edges) {
      const h = e.sourceHandle || "main";
      const list = (out[e.source] ??= []);
      if (!list.includes(h)) list.push(h);
    }
    return out;
  }, [edges]);
  const ctx = useMemo(
    () => ({ types, statuses, issuesByNode, readOnly, usedHandles, notes }),
    [types, statuses, issuesByNode, readOnly, usedHandles, notes],
  );

  return (
    <CanvasContext.Provider value={ctx}>
      <div className="sy-canvas" data-testid="canvas" data-readonly={readOnly ? "true" : "false"}>
        <ReactFlow<FlowNode, FlowEdge>
          nodes={nodes}
          edges={drawnEdges}
          nodeTypes={NODE_TYPES}
          snapToGrid
          snapGrid={[GRID, GRID]}
          minZoom={0.1}
          maxZoom={2}
          fitView={fitOnOpen}
          fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
          nodesDraggable={!readOnly}
          nodesConnectable={!readOnly}
          elementsSelectable
          edgesFocusable={!readOnly}
          deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
          multiSelectionKeyCode={["Shift", "Meta", "Control"]}
          selectionKeyCode="Shift"
          onlyRenderVisibleElements={nodes.length > 150}
          proOptions={{ hideAttribution: true }}
          {...flowProps}
        >
          <Background variant={BackgroundVariant.Dots} gap={GRID} size={1} />
          <Controls showInteractive={!readOnly} />
          {minimap && <MiniMap pannable zoomable className="sy-minimap" style={{ width: 160, height: 100 }} />}
          {children}
        </ReactFlow>
      </div>
    </CanvasContext.Provider>
  );
}
