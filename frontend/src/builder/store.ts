// The builder's state: the document being edited (meta fields + canvas nodes/edges), the
// selection, validation issues, undo/redo history and the save state.
import {
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { create } from "zustand";
import {
  docToFlow,
  edgeId,
  flowToDoc,
  SCHEMA,
  toFlowEdge,
  toFlowNode,
  type DocEdge,
  type DocNode,
  type FlowEdge,
  type FlowNode,
  type WorkflowDocument,
} from "../canvas";
import type { NodeTypeInfo, ValidationIssue } from "../lib/api";

export type Meta = Omit<WorkflowDocument, "nodes" | "edges">;
type Snapshot = { meta: Meta; nodes: DocNode[]; edges: DocEdge[] };
export type SaveState = "saved" | "dirty" | "saving" | "draft" | "error" | "conflict";

const HISTORY_LIMIT = 100;

export type BuilderState = {
  workflowId: string | null;
  version: number; // latest saved version the working copy is based on
  status: string; // inactive | active | error
  meta: Meta;
  nodes: FlowNode[];
  edges: FlowEdge[];
  types: Record<string, NodeTypeInfo>;
  issues: ValidationIssue[];
  selectedId: string | null;
  selectedEdgeId: string | null;
  past: Snapshot[];
  future: Snapshot[];
  changeCounter: number; // bumps on every document change (drives autosave)
  saveState: SaveState;
  message: string | null;
  lastRunFailed: boolean;

  setTypes(types: NodeTypeInfo[]): void;
  load(doc: WorkflowDocument, opts?: { workflowId?: string | null; version?: number; status?: string; issues?: ValidationIssue[]; keepHistory?: boolean }): void;
  document(): WorkflowDocument;
  checkpoint(): void;
  onNodesChange(changes: NodeChange<FlowNode>[]): void;
  onEdgesChange(changes: EdgeChange<FlowEdge>[]): void;
  onConnect(connection: Connection): void;
  addNode(type: string, position?: { x: number; y: number }, after?: string | null, select?: boolean): string;
  updateNode(id: string, patch: Partial<DocNode>): void;
  renameNodeId(oldId: string, newId: string): string | null;
  updateEdge(id: string, patch: Partial<DocEdge>): void;
  setMeta(patch: Partial<Meta>): void;
  setPositions(positions: Record<string, [number, number]>): void;
  select(id: string | null): void;
  selectEdge(id: string | null): void;
  deleteSelection(): void;
  pasteFragment(nodes: DocNode[], edges: DocEdge[], offset?: number): void;
  undo(): void;
  redo(): void;
  setIssues(issues: ValidationIssue[]): void;
  setSaveState(state: SaveState, message?: string | null): void;
  setSaved(info: { workflowId?: string; version?: number; status?: string }): void;
};

export function slugForType(type: string): string {
  const last = type.split(".").pop() || "node";
  let slug = last.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (!/^[a-z]/.test(slug)) slug = `n_${slug}`;
  return slug.slice(0, 50) || "node";
}

export function uniqueId(base: string, taken: Set<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

function snapshotOf(s: BuilderState): Snapshot {
  const { nodes, edges } = flowToDoc(s.nodes, s.edges);
  return { meta: s.meta, nodes, edges };
}

function fromSnapshot(snap: Snapshot) {
  const { nodes, edges } = docToFlow(snap);
  return { meta: snap.meta, nodes, edges };
}

const CHANGED = (s: BuilderState) => ({
  changeCounter: s.changeCounter + 1,
  saveState: (s.saveState === "conflict" ? "conflict" : "dirty") as SaveState,
});

export const useBuilder = create<BuilderState>((set, get) => ({
  workflowId: null,
  version: 0,
  status: "inactive",
  meta: { schema: SCHEMA, name: "Untitled workflow", description: "", variables: {}, settings: { timeout_s: 300, max_runs_per_day: null } },
  nodes: [],
  edges: [],
  types: {},
  issues: [],
  selectedId: null,
  selectedEdgeId: null,
  past: [],
  future: [],
  changeCounter: 0,
  saveState: "saved",
  message: null,
  lastRunFailed: false,

  setTypes(types) {
    set({ types: Object.fromEntries(types.map((t) => [t.type, t])) });
  },

  load(doc, opts = {}) {
    const { nodes: _n, edges: _e, ...meta } = doc;
    const { nodes, edges } = docToFlow(doc);
    set((s) => ({
      meta: { ...meta, schema: meta.schema ?? SCHEMA },
      nodes,
      edges,
      workflowId: opts.workflowId !== undefined ? opts.workflowId : s.workflowId,
      version: opts.version ?? s.version,
      status: opts.status ?? s.status,
      issues: opts.issues ?? [],
      selectedId: null,
      selectedEdgeId: null,
      past: opts.keepHistory ? [...s.past, snapshotOf(s)].slice(-HISTORY_LIMIT) : [],
      future: [],
    }));
  },

  document() {
    const s = get();
    const { nodes, edges } = flowToDoc(s.nodes, s.edges);
    return { ...s.meta, schema: s.meta.schema || SCHEMA, nodes, edges };
  },

  checkpoint() {
    set((s) => ({ past: [...s.past, snapshotOf(s)].slice(-HISTORY_LIMIT), future: [] }));
  },

  onNodesChange(changes) {
    const s = get();
    const structural = changes.some((c) => c.type === "remove" || c.type === "add");
    const dragStart = changes.some((c) => c.type === "position" && c.dragging && !s.nodes.find((n) => n.id === c.id)?.dragging);
    if (structural || dragStart) s.checkpoint();
    const moved = changes.some((c) => c.type === "position" && c.dragging === false);
    const removed = changes.filter((c) => c.type === "remove").map((c) => (c as { id: string }).id);
    set((st) => {
      const nodes = applyNodeChanges(changes, st.nodes);
      const edges = removed.length ? st.edges.filter((e) => !removed.includes(e.source) && !removed.includes(e.target)) : st.edges;
      // the drawer follows clicks (select), not React Flow's own selection changes
      return {
        nodes,
        edges,
        selectedId: st.selectedId && removed.includes(st.selectedId) ? null : st.selectedId,
        ...(structural || moved ? CHANGED(st) : {}),
      };
    });
  },

  onEdgesChange(changes) {
    const structural = changes.some((c) => c.type === "remove" || c.type === "add");
    if (structural) get().checkpoint();
    set((st) => ({ edges: applyEdgeChanges(changes, st.edges), ...(structural ? CHANGED(st) : {}) }));
  },

  onConnect(c) {
    if (!c.source || !c.target || c.source === c.target) return;
    get().checkpoint();
    const e: DocEdge = { source: c.source, target: c.target };
    if (c.sourceHandle && c.sourceHandle !== "main") e.source_handle = c.sourceHandle;
    if (c.targetHandle && c.targetHandle !== "main") e.target_handle = c.targetHandle;
    set((st) => {
      const id = edgeId(e, new Set(st.edges.map((x) => x.id)));
      if (st.edges.some((x) => x.source === e.source && x.target === e.target && (x.sourceHandle || "main") === (e.source_handle || "main"))) return {};
      return { edges: addEdge(toFlowEdge(e, id), st.edges), ...CHANGED(st) };
    });
  },

  addNode(type, position, after, select = true) {
    const s = get();
    s.checkpoint();
    const id = uniqueId(slugForType(type), new Set(s.nodes.map((n) => n.id)));
    const info = s.types[type];
    let pos = position;
    const from = after ? s.nodes.find((n) => n.id === after) : null;
    if (!pos && from) {
      const siblings = s.edges.filter((e) => e.source === from.id).length;
      pos = { x: from.position.x + 260, y: from.position.y + siblings * 100 };
    }
    if (!pos) {
      const maxX = s.nodes.reduce((m, n) => Math.max(m, n.position.x), -260);
      pos = { x: maxX + 260, y: 0 };
    }
    const node: DocNode = { id, type, name: info?.label ?? "", config: {} };
    const flowNode = { ...toFlowNode(node, [Math.round(pos.x / 20) * 20, Math.round(pos.y / 20) * 20]), selected: select };
    set((st) => {
      let edges = st.edges;
      if (from && !info?.is_trigger) {
        const handles = st.types[from.data.node.type]?.handles ?? ["main"];
        const used = new Set(st.edges.filter((e) => e.source === from.id).map((e) => e.sourceHandle || "main"));
        const handle = handles.find((h) => !used.has(h)) ?? handles[0] ?? "main";
        const e: DocEdge = handle && handle !== "main" ? { source: from.id, source_handle: handle, target: id } : { source: from.id, target: id };
        edges = [...edges, toFlowEdge(e, edgeId(e, new Set(edges.map((x) => x.id))))];
      }
      return {
        nodes: select ? [...st.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), flowNode] : [...st.nodes, flowNode],
        edges,
        selectedId: select ? id : st.selectedId,
        ...CHANGED(st),
      };
    });
    return id;
  },

  updateNode(id, patch) {
    set((st) => ({
      nodes: st.nodes.map((n) => (n.id === id ? { ...n, data: { node: cleanNode({ ...n.data.node, ...patch }) } } : n)),
      ...CHANGED(st),
    }));
  },

  renameNodeId(oldId, newId) {
    const s = get();
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(newId)) return "Use a lowercase letter, then letters, digits or _ (at most 63).";
    if (newId !== oldId && s.nodes.some((n) => n.id === newId)) return `Another node already has the id ${newId}.`;
    if (newId === oldId) return null;
    s.checkpoint();
    set((st) => {
      const nodes = st.nodes.map((n) => (n.id === oldId ? { ...n, id: newId, data: { node: { ...n.data.node, id: newId } } } : n));
      const taken = new Set<string>();
      const edges = st.edges.map((e) => {
        if (e.source !== oldId && e.target !== oldId) return (taken.add(e.id), e);
        const d: DocEdge = { ...(e.data?.edge ?? { source: e.source, target: e.target }) };
        d.source = e.source === oldId ? newId : e.source;
        d.target = e.target === oldId ? newId : e.target;
        if (e.sourceHandle && e.sourceHandle !== "main") d.source_handle = e.sourceHandle;
        return toFlowEdge(d, edgeId(d, taken));
      });
      return { nodes, edges, selectedId: newId, ...CHANGED(st) };
    });
    return null;
  },

  updateEdge(id, patch) {
    get().checkpoint();
    set((st) => ({
      edges: st.edges.map((e) => {
        if (e.id !== id) return e;
        const d = { ...(e.data?.edge ?? { source: e.source, target: e.target }), ...patch };
        if (d.mapping && !Object.keys(d.mapping).length) delete d.mapping;
        return { ...toFlowEdge(d, e.id), selected: e.selected };
      }),
      ...CHANGED(st),
    }));
  },

  setMeta(patch) {
    get().checkpoint();
    set((st) => ({ meta: { ...st.meta, ...patch }, ...CHANGED(st) }));
  },

  setPositions(positions) {
    get().checkpoint();
    set((st) => ({
      nodes: st.nodes.map((n) => (positions[n.id] ? { ...n, position: { x: positions[n.id][0], y: positions[n.id][1] } } : n)),
      ...CHANGED(st),
    }));
  },

  select(id) {
    set((st) => ({
      selectedId: id,
      selectedEdgeId: null,
      nodes: st.nodes.map((n) => (n.selected !== (n.id === id) ? { ...n, selected: n.id === id } : n)),
    }));
  },

  selectEdge(id) {
    set({ selectedEdgeId: id });
  },

  deleteSelection() {
    const s = get();
    const ids = new Set(s.nodes.filter((n) => n.selected).map((n) => n.id));
    const edgeIds = new Set(s.edges.filter((e) => e.selected).map((e) => e.id));
    if (!ids.size && !edgeIds.size) return;
    s.checkpoint();
    set((st) => ({
      nodes: st.nodes.filter((n) => !ids.has(n.id)),
      edges: st.edges.filter((e) => !edgeIds.has(e.id) && !ids.has(e.source) && !ids.has(e.target)),
      selectedId: null,
      ...CHANGED(st),
    }));
  },

  pasteFragment(nodes, edges, offset = 40) {
    const s = get();
    s.checkpoint();
    const taken = new Set(s.nodes.map((n) => n.id));
    const rename: Record<string, string> = {};
    const added: FlowNode[] = nodes.map((n) => {
      const id = uniqueId(/^[a-z][a-z0-9_]{0,62}$/.test(n.id) ? n.id : slugForType(n.type), taken);
      taken.add(id);
      rename[n.id] = id;
      const [x, y] = n.position ?? [0, 0];
      return { ...toFlowNode({ ...n, id }, [x + offset, y + offset]), selected: true };
    });
    const edgeTaken = new Set(s.edges.map((e) => e.id));
    const addedEdges = edges
      .filter((e) => rename[e.source] && rename[e.target])
      .map((e) => {
        const d = { ...e, source: rename[e.source], target: rename[e.target] };
        return toFlowEdge(d, edgeId(d, edgeTaken));
      });
    set((st) => ({
      nodes: [...st.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), ...added],
      edges: [...st.edges, ...addedEdges],
      selectedId: added.length === 1 ? added[0].id : null,
      ...CHANGED(st),
    }));
  },

  undo() {
    const s = get();
    const prev = s.past[s.past.length - 1];
    if (!prev) return;
    set((st) => ({ ...fromSnapshot(prev), past: st.past.slice(0, -1), future: [snapshotOf(st), ...st.future], selectedId: null, ...CHANGED(st) }));
  },

  redo() {
    const s = get();
    const next = s.future[0];
    if (!next) return;
    set((st) => ({ ...fromSnapshot(next), future: st.future.slice(1), past: [...st.past, snapshotOf(st)], selectedId: null, ...CHANGED(st) }));
  },

  setIssues(issues) {
    set({ issues });
  },

  setSaveState(saveState, message = null) {
    set({ saveState, message });
  },

  setSaved(info) {
    set((st) => ({
      workflowId: info.workflowId ?? st.workflowId,
      version: info.version ?? st.version,
      status: info.status ?? st.status,
    }));
  },
}));

/** Drop empty optional fields so the stored document stays tidy. */
function cleanNode(n: DocNode): DocNode {
  const out: DocNode = { ...n };
  for (const key of ["retry", "default_output", "timeout_ms", "on_error", "on_timeout", "description"] as const) {
    const v = out[key];
    if (v === undefined || v === null || v === "" || (typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length)) delete out[key];
  }
  return out;
}
