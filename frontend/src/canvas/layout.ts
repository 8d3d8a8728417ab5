// Auto-layout: left-to-right layered layout with dagre.
import dagre from "@dagrejs/dagre";
import type { DocEdge, DocNode } from "./handles";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;

export function autoLayout(nodes: DocNode[], edges: DocEdge[]): Record<string, [number, number]> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 80, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target);
  dagre.layout(g);
  const out: Record<string, [number, number]> = {};
  for (const n of nodes) {
    const p = g.node(n.id);
    if (p) out[n.id] = [Math.round(p.x - NODE_WIDTH / 2), Math.round(p.y - NODE_HEIGHT / 2)];
  }
  return out;
}
