// The names a template at a given node can use (SPEC §3), for autocomplete: from the upstream
// nodes' output schemas, the last run's real data, the workflow variables and the workspace's
// credential names.
import type { NodeTypeInfo } from "../lib/api";
import type { FlowEdge, FlowNode } from "../canvas";

export type Completion = { label: string; detail?: string; type?: string; info?: string };

export const FILTERS: Completion[] = [
  { label: "default", detail: "default(value)", type: "function", info: "replaces a missing path or null" },
  { label: "length", type: "function" },
  { label: "lower", type: "function" },
  { label: "upper", type: "function" },
  { label: "int", type: "function" },
  { label: "float", type: "function" },
  { label: "string", type: "function" },
  { label: "json", type: "function" },
  { label: "round", detail: "round(precision)", type: "function" },
  { label: "abs", type: "function" },
  { label: "trim", type: "function" },
  { label: "join", detail: "join(separator)", type: "function" },
];

export type LastRun = { input?: any; nodes?: { node_id: string; output?: any; input?: any }[] } | null;

function keysOf(value: any, prefix: string, out: Completion[], detail: string, depth = 0) {
  if (!value || typeof value !== "object" || Array.isArray(value) || depth > 2) return;
  for (const [k, v] of Object.entries(value).slice(0, 60)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) continue;
    const label = `${prefix}.${k}`;
    out.push({ label, detail, type: "property", info: preview(v) });
    keysOf(v, label, out, detail, depth + 1);
  }
}

function schemaKeys(schema: any, prefix: string, out: Completion[], detail: string, depth = 0) {
  const props = schema?.properties;
  if (!props || depth > 2) return;
  for (const [k, sub] of Object.entries<any>(props)) {
    const label = `${prefix}.${k}`;
    out.push({ label, detail, type: "property", info: sub?.description ?? sub?.type });
    schemaKeys(sub, label, out, detail, depth + 1);
  }
}

function preview(v: any): string {
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}…` : s;
  } catch {
    return "";
  }
}

function ancestors(nodeId: string, edges: FlowEdge[]): string[] {
  const seen = new Set<string>();
  const stack = [nodeId];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const e of edges) if (e.target === cur && !seen.has(e.source)) (seen.add(e.source), stack.push(e.source));
  }
  seen.delete(nodeId);
  return [...seen];
}

/** Whether the node is in a loop's body: reachable from a `logic.loop` node's `each` handle
 * without passing through that loop again (SPEC §4: `item`/`index` are in scope there). */
export function inLoopBody(nodeId: string, nodes: FlowNode[], edges: FlowEdge[]): boolean {
  for (const loop of nodes.filter((n) => n.data.node.type === "logic.loop")) {
    const seen = new Set<string>();
    const queue = edges.filter((e) => e.source === loop.id && e.sourceHandle === "each").map((e) => e.target);
    while (queue.length) {
      const id = queue.shift()!;
      if (id === loop.id || seen.has(id)) continue;
      if (id === nodeId) return true;
      seen.add(id);
      for (const e of edges) if (e.source === id) queue.push(e.target);
    }
  }
  return false;
}

export function scopeNames(opts: {
  nodeId: string;
  nodes: FlowNode[];
  edges: FlowEdge[];
  types: Record<string, NodeTypeInfo>;
  variables: Record<string, any>;
  credentials: string[];
  lastRun: LastRun;
}): Completion[] {
  const { nodeId, nodes, edges, types, variables, credentials, lastRun } = opts;
  const out: Completion[] = [];
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const runOutput = (id: string) => lastRun?.nodes?.find((r) => r.node_id === id)?.output;
  for (const root of ["trigger", "input", "nodes", "variables", "workspace", "execution"]) out.push({ label: root, type: "variable" });
  const trigger = nodes.find((n) => types[n.data.node.type]?.is_trigger);
  if (trigger) schemaKeys(types[trigger.data.node.type]?.output_schema, "trigger", out, "trigger");
  keysOf(lastRun?.input, "trigger", out, "last run");
  const parents = edges.filter((e) => e.target === nodeId).map((e) => e.source);
  for (const p of parents) {
    const n = byId[p];
    if (!n) continue;
    schemaKeys(types[n.data.node.type]?.output_schema, "input", out, `from ${p}`);
    keysOf(runOutput(p), "input", out, `last run of ${p}`);
  }
  for (const a of ancestors(nodeId, edges)) {
    const n = byId[a];
    if (!n) continue;
    out.push({ label: `nodes.${a}`, detail: n.data.node.name || n.data.node.type, type: "namespace" });
    schemaKeys(types[n.data.node.type]?.output_schema, `nodes.${a}`, out, n.data.node.type);
    keysOf(runOutput(a), `nodes.${a}`, out, "last run");
  }
  for (const [k, v] of Object.entries(variables ?? {})) out.push({ label: `variables.${k}`, type: "constant", info: preview(v) });
  for (const c of credentials) out.push({ label: `workspace.${c}`, type: "constant", detail: "credential (secret)" });
  for (const k of ["id", "workflow_id", "mode", "started_at"]) out.push({ label: `execution.${k}`, type: "property" });
  if (inLoopBody(nodeId, nodes, edges)) {
    for (const k of ["item", "index"]) out.push({ label: k, type: "variable", detail: "this loop iteration" });
  } else if (byId[nodeId]?.data.node.type === "logic.filter") {
    for (const k of ["item", "index"]) out.push({ label: k, type: "variable", detail: "each item (in the condition)" });
  }
  const seen = new Set<string>();
  return out.filter((c) => (seen.has(c.label) ? false : (seen.add(c.label), true)));
}
