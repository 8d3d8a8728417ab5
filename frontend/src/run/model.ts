// Turning a run detail (plus live events) into what the canvas draws: one status per node,
// notes (error on hover, waits, attempts, iterations) and the edges that carried data.
import { autoLayout, edgeId, type NodeNote } from "../canvas";
import type { RunNode } from "./Timeline";

export type Doc = { nodes: any[]; edges: any[] };
const ACTIVE = ["running", "retrying", "waiting"];

export function groupByNode(nodes: RunNode[]): Record<string, RunNode[]> {
  const out: Record<string, RunNode[]> = {};
  for (const n of nodes) (out[n.node_id] ??= []).push(n);
  return out;
}

export function canvasState(doc: Doc, nodes: RunNode[], pinned: Set<string>) {
  const groups = groupByNode(nodes);
  const statuses: Record<string, string> = {};
  const notes: Record<string, NodeNote> = {};
  const byId = Object.fromEntries(doc.nodes.map((n) => [n.id, n]));
  for (const [id, list] of Object.entries(groups)) {
    const live = list.find((n) => ACTIVE.includes(n.status));
    const failed = list.find((n) => n.status === "failed");
    const last = live ?? failed ?? list[list.length - 1];
    statuses[id] = last.status;
    const note: NodeNote = {};
    if (last.error && (last.status === "failed" || last.status === "retrying")) {
      note.title = `${last.error.category}: ${last.error.message}`;
    }
    if (last.status === "failed" && last.error) note.detail = last.error.category;
    if (last.status === "retrying") {
      const max = byId[id]?.retry?.max_attempts ?? 1;
      note.detail = `attempt ${last.attempts} of ${max}`;
    }
    if (last.status === "waiting") {
      const until = (last as any).expires_at ?? last.resume_at;
      const what = (last as any).wait_kind === "timer" ? "timer" : (last as any).wait_kind ?? "event";
      note.detail = `waiting for ${what}${until ? ` until ${new Date(until).toLocaleTimeString()}` : ""}`;
      note.title = note.detail;
    }
    const iterations = list.filter((n) => n.iteration !== null);
    if (iterations.length) {
      const loopId = loopOf(doc, id);
      const total = loopId ? (groups[loopId]?.[0] as any)?.items : undefined;
      const current = Math.max(...iterations.map((n) => n.iteration as number)) + 1;
      const active = iterations.some((n) => ACTIVE.includes(n.status) || n.status === "pending");
      const said = total !== undefined ? `iteration ${current} of ${total}` : active ? `iteration ${current}` : `${iterations.length} iteration${iterations.length === 1 ? "" : "s"}`;
      note.detail = `${said}${note.detail ? ` · ${note.detail}` : ""}`;
    }
    if (byId[id]?.type === "logic.loop" && (list[0] as any).items !== undefined && list[0].status === "running") {
      const done = Math.max(0, ...nodes.filter((n) => n.iteration !== null && loopOf(doc, n.node_id) === id).map((n) => (n.iteration as number) + 1));
      note.detail = `iteration ${done} of ${(list[0] as any).items}`;
    }
    if (pinned.has(id)) note.pinned = true;
    if (Object.keys(note).length) notes[id] = note;
  }
  for (const id of pinned) if (!notes[id]) notes[id] = { pinned: true };
  const taken = new Set<string>();
  const activeEdges: string[] = [];
  for (const e of doc.edges) {
    const id = edgeId(e, taken);
    const handle = e.source_handle || "main";
    const started = (groups[e.target] ?? []).some((n) => !["pending", "skipped"].includes(n.status));
    // Any instance of the source (loop bodies have one per iteration) that finished and sent
    // data on this handle: known from the handles it took (run detail, snapshot); from a live
    // event alone, or a loop's `each`, the edge carried data when its target started.
    const carried = (groups[e.source] ?? []).some((src) => {
      if (src.status !== "succeeded" && src.status !== "failed") return handle === "each" && started;
      const handles: string[] | undefined = (src as any).handles;
      return handle === "each" || !Array.isArray(handles) ? started : handles.includes(handle);
    });
    if (carried) activeEdges.push(id);
  }
  return { statuses, notes, activeEdges };
}

export function loopOf(doc: Doc, nodeId: string): string | null {
  // the loop whose `each` handle reaches this node (breadth-first from each loop)
  for (const loop of doc.nodes.filter((n) => n.type === "logic.loop")) {
    const seen = new Set<string>();
    const queue = doc.edges.filter((e) => e.source === loop.id && e.source_handle === "each").map((e) => e.target);
    while (queue.length) {
      const id = queue.shift()!;
      if (id === nodeId) return loop.id;
      if (seen.has(id) || id === loop.id) continue;
      seen.add(id);
      for (const e of doc.edges) if (e.source === id) queue.push(e.target);
    }
  }
  return null;
}

/** The document with positions: laid out automatically when nodes have none (or share one). */
export function withLayout(doc: Doc): Doc {
  const keys = doc.nodes.map((n) => (Array.isArray(n.position) ? n.position.join(",") : ""));
  if (!keys.includes("") && new Set(keys).size === keys.length) return doc;
  const at = autoLayout(doc.nodes, doc.edges);
  return { ...doc, nodes: doc.nodes.map((n) => ({ ...n, position: at[n.id] ?? n.position })) };
}
