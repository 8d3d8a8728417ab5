// Which handles a node draws. Static handles come from /node-types; a type with
// `dynamic_handles` takes them from its config by the rule /node-types gives in `handles_from`
// (else: every `handle` named in a list of objects, plus `*_handle` fields), so they follow the
// config as it is edited. `error` is added when on_error is `route`; a handle an edge still uses is
// kept (drawn as stale) so no connection silently disappears.
import type { NodeTypeInfo } from "../lib/api";

export type DocNode = {
  id: string;
  type: string;
  name?: string;
  description?: string;
  config?: Record<string, any>;
  position?: [number, number];
  retry?: Record<string, any>;
  timeout_ms?: number | null;
  on_error?: string;
  on_timeout?: string;
  default_output?: any;
  [key: string]: any;
};

export type DocEdge = {
  source: string;
  target: string;
  source_handle?: string;
  target_handle?: string;
  mapping?: Record<string, string>;
};

export type WorkflowDocument = {
  schema: string;
  name?: string;
  description?: string;
  variables?: Record<string, any>;
  settings?: Record<string, any>;
  nodes: DocNode[];
  edges: DocEdge[];
  [key: string]: any;
};

export function dynamicHandles(config: Record<string, any> | undefined): string[] {
  const out: string[] = [];
  const add = (h: unknown) => {
    if (typeof h === "string" && h && !out.includes(h)) out.push(h);
  };
  for (const [key, value] of Object.entries(config ?? {})) {
    if (Array.isArray(value)) {
      for (const item of value) if (item && typeof item === "object") add((item as any).handle);
    } else if (key.endsWith("_handle")) {
      add(value);
    }
  }
  return out;
}

/** Handles by the engine's own rule (`handles_from` in /node-types). */
export function handlesFrom(rule: NonNullable<NodeTypeInfo["handles_from"]>, config: Record<string, any> | undefined): string[] {
  const out: string[] = [];
  const add = (h: unknown) => {
    if (typeof h === "string" && h && !out.includes(h)) out.push(h);
  };
  for (const { path, key } of rule.lists) {
    const items = config?.[path];
    for (const item of Array.isArray(items) ? items : []) if (item && typeof item === "object") add((item as any)[key]);
  }
  for (const field of rule.fields) add(config?.[field]);
  return out;
}

export function outputHandles(node: DocNode, info: NodeTypeInfo | undefined): string[] {
  const handles = !info?.dynamic_handles
    ? [...(info?.handles ?? ["main"])]
    : info.handles_from
      ? handlesFrom(info.handles_from, node.config)
      : dynamicHandles(node.config);
  if (node.on_error === "route" && !handles.includes("error")) handles.push("error");
  return handles;
}

export function inputHandles(info: NodeTypeInfo | undefined): string[] {
  return info?.is_trigger ? [] : ["main"];
}
