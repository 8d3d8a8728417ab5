// Custom rjsf widgets and fields where our config differs from plain JSON Schema forms:
// template strings (CodeMirror with autocomplete), conditions, free key → template maps,
// workspace pickers (credential, connector, provider connection) and a JSON fallback.
import { createContext, useContext, useEffect, useState } from "react";
import type { FieldProps, WidgetProps } from "@rjsf/utils";
import { api } from "../lib/api";
import { ExpressionInput } from "./ExpressionInput";
import type { Completion } from "./scope";

export type FormCtx = {
  getNames: () => Completion[];
  previewScope: () => Record<string, any>;
  hasRun: boolean;
  credentials: { id: string; name: string; kind?: string }[];
  connectors: { id: string; name: string }[];
  connections: { id: string; name: string; provider?: string }[];
};
export const FormContext = createContext<FormCtx>({ getNames: () => [], previewScope: () => ({}), hasRun: false, credentials: [], connectors: [], connections: [] });

/** The rendered value of a template against the last run's data (or the error it would raise). */
export function LivePreview({ template }: { template: string }) {
  const ctx = useContext(FormContext);
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    if (!template || !template.includes("{{")) return setState(null);
    const timer = window.setTimeout(() => {
      api.post("templates/preview", { template, scope: ctx.previewScope() }).then(
        (r: any) => setState(r.ok ? { ok: true, text: JSON.stringify(r.value) } : { ok: false, text: r.error?.message ?? "fails" }),
        () => setState(null),
      );
    }, 300);
    return () => window.clearTimeout(timer);
  }, [template, ctx]);
  if (!state) return null;
  return (
    <div className={`by-preview${state.ok ? "" : " is-error"}`} data-testid="expression-preview" data-ok={state.ok ? "true" : "false"}>
      <span className="by-preview-label">{ctx.hasRun ? "Last run →" : "No run yet →"}</span> {state.text.length > 160 ? `${state.text.slice(0, 157)}…` : state.text}
    </div>
  );
}

const PICKERS: Record<string, { key: keyof FormCtx; create: string; noun: string }> = {
  credential: { key: "credentials", create: "/credentials/", noun: "credential" },
  connector: { key: "connectors", create: "/connectors/", noun: "connector" },
  connection: { key: "connections", create: "/providers/", noun: "provider connection" },
};

function Picker({ id, value, onChange, name }: WidgetProps) {
  const ctx = useContext(FormContext);
  const spec = PICKERS[name];
  const items = ctx[spec.key] as { id: string; name: string }[];
  const known = items.some((i) => i.name === value || i.id === value);
  return (
    <div className="by-picker">
      <select id={id} value={value ?? ""} onChange={(e) => onChange(e.target.value || undefined)} data-picker={name}>
        <option value="">— choose a {spec.noun} —</option>
        {items.map((i) => (
          <option key={i.id} value={i.name}>{i.name}</option>
        ))}
        {value && !known && <option value={value}>{value} (not found)</option>}
      </select>
      <a href={spec.create} target="_blank" rel="noreferrer" className="small">Create one</a>
    </div>
  );
}

export function TemplateWidget(props: WidgetProps) {
  const ctx = useContext(FormContext);
  const { id, value, onChange, onBlur, name, schema, placeholder, readonly, disabled } = props;
  if (PICKERS[name] && !(schema as any).enum) return <Picker {...props} />;
  const t = (schema as any).type;
  if (t === "number" || t === "integer") {
    return (
      <input
        id={id}
        type="number"
        step={t === "integer" ? 1 : "any"}
        value={value ?? ""}
        readOnly={readonly}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
        onBlur={() => onBlur(id, value)}
      />
    );
  }
  return (
    <>
    <ExpressionInput
      id={id}
      value={value == null ? "" : String(value)}
      onChange={(v) => onChange(v === "" ? undefined : v)}
      onBlur={() => onBlur(id, value)}
      getNames={ctx.getNames}
      multiline={name === "code" || name === "body" || (schema as any).format === "textarea"}
      placeholder={placeholder || (schema.description as string) || ""}
      readOnly={readonly || disabled}
      ariaLabel={name}
    />
    <LivePreview template={value == null ? "" : String(value)} />
    </>
  );
}

const OPS = ["eq", "ne", "gt", "lt", "gte", "lte", "in", "contains", "starts_with", "ends_with", "exists", "is_empty", "matches"];

/** A condition: the structured {left, op, right} form, or a template string, or JSON for all/any/not. */
export function ConditionField({ formData, onChange, idSchema, name, fieldPathId }: FieldProps) {
  const ctx = useContext(FormContext);
  const fid = (fieldPathId as any)?.$id ?? (idSchema as any)?.$id ?? name;
  const emit = (v: any) => (onChange as any)(v, fieldPathId?.path ?? undefined);
  const structured = formData && typeof formData === "object" && "op" in formData;
  const mode = formData == null ? "simple" : structured ? "simple" : typeof formData === "string" ? "template" : typeof formData === "boolean" ? "template" : "json";
  const [json, setJson] = useState(() => (mode === "json" ? JSON.stringify(formData, null, 2) : ""));
  const cond = structured ? formData : { left: "", op: "eq", right: "" };
  const unary = cond.op === "exists" || cond.op === "is_empty";
  return (
    <div className="by-condition" id={fid}>
      <div className="by-cond-mode" role="radiogroup" aria-label="Condition form">
        {(["simple", "template", "json"] as const).map((m) => (
          <label key={m}>
            <input
              type="radio"
              name={`${fid}-mode`}
              checked={mode === m}
              onChange={() => {
                if (m === "simple") emit({ left: "", op: "eq", right: "" });
                if (m === "template") emit("{{  }}");
                if (m === "json") (setJson('{"all": []}'), emit({ all: [] }));
              }}
            />
            {m === "simple" ? "Compare" : m === "template" ? "Expression" : "JSON (all/any/not)"}
          </label>
        ))}
      </div>
      {mode === "simple" && (
        <div className="by-cond-row">
          <ExpressionInput value={String(cond.left ?? "")} onChange={(v) => emit({ ...cond, left: v })} getNames={ctx.getNames} ariaLabel={`${name} left`} placeholder="{{ input.amount }}" />
          <select value={cond.op} aria-label={`${name} operator`} onChange={(e) => emit({ ...cond, op: e.target.value, ...(e.target.value === "exists" || e.target.value === "is_empty" ? { right: undefined } : {}) })}>
            {OPS.map((o) => <option key={o} value={o}>{o}</option>)}
          </select>
          {!unary && <ExpressionInput value={cond.right == null ? "" : String(cond.right)} onChange={(v) => emit({ ...cond, right: v })} getNames={ctx.getNames} ariaLabel={`${name} right`} placeholder="100" />}
        </div>
      )}
      {mode === "template" && (
        <ExpressionInput value={String(formData)} onChange={(v) => emit(v)} getNames={ctx.getNames} ariaLabel={name} />
      )}
      {mode === "json" && <JsonText value={json} onText={setJson} onValue={emit} label={name} />}
    </div>
  );
}

function JsonText({ value, onText, onValue, label }: { value: string; onText: (s: string) => void; onValue: (v: any) => void; label: string }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <textarea
        className="by-json"
        aria-label={label}
        value={value}
        rows={Math.min(12, Math.max(3, value.split("\n").length))}
        onChange={(e) => {
          onText(e.target.value);
          try {
            onValue(e.target.value.trim() === "" ? undefined : JSON.parse(e.target.value));
            setError(null);
          } catch (err) {
            setError(`Not JSON yet: ${(err as Error).message}`);
          }
        }}
      />
      {error && <div className="by-field-error">{error}</div>}
    </>
  );
}

/** Any JSON value (untyped or multi-type schema), edited as text. */
export function JsonField({ formData, onChange, name, schema, fieldPathId }: FieldProps) {
  const [text, setText] = useState(() => (formData === undefined ? "" : JSON.stringify(formData, null, 2)));
  useEffect(() => {
    try {
      if (JSON.stringify(JSON.parse(text || "null")) !== JSON.stringify(formData ?? null)) setText(formData === undefined ? "" : JSON.stringify(formData, null, 2));
    } catch {
      /* keep the user's partial text */
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [formData]);
  return (
    <div className="by-field">
      <label className="by-label">{(schema.title as string) || name}</label>
      {schema.description && <div className="by-help">{schema.description as string}</div>}
      <JsonText value={text} onText={setText} onValue={(v) => (onChange as any)(v, fieldPathId?.path)} label={name} />
    </div>
  );
}

/** A free object of key → template (transform `set`, headers, mappings). */
export function KeyValueField({ formData, onChange, name, schema, fieldPathId }: FieldProps) {
  const ctx = useContext(FormContext);
  const entries: [string, any][] = Object.entries(formData ?? {});
  const emit = (rows: [string, any][]) => (onChange as any)(Object.fromEntries(rows.filter(([k]) => k !== "" || true)), fieldPathId?.path);
  return (
    <div className="by-field by-kv" data-field={name}>
      <label className="by-label">{(schema.title as string) || name}</label>
      {schema.description && <div className="by-help">{schema.description as string}</div>}
      {entries.map(([k, v], i) => (
        <div className="by-kv-row" key={i}>
          <input
            className="by-kv-key"
            aria-label={`${name} key ${i + 1}`}
            value={k}
            placeholder="path.to.field"
            onChange={(e) => emit(entries.map((row, j) => (j === i ? [e.target.value, row[1]] : row)))}
          />
          {typeof v === "string" || v == null ? (
            <ExpressionInput value={v ?? ""} onChange={(nv) => emit(entries.map((row, j) => (j === i ? [row[0], nv] : row)))} getNames={ctx.getNames} ariaLabel={`${name} value ${i + 1}`} />
          ) : (
            <input className="by-kv-json" aria-label={`${name} value ${i + 1}`} defaultValue={JSON.stringify(v)} onBlur={(e) => {
              try { emit(entries.map((row, j) => (j === i ? [row[0], JSON.parse(e.target.value)] : row))); } catch { /* not JSON: kept as typed */ }
            }} />
          )}
          <button type="button" className="by-icon-btn" aria-label={`Remove ${k || "row"}`} onClick={() => emit(entries.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" className="by-link" onClick={() => emit([...entries, [nextKey(entries), ""]])}>+ Add field</button>
    </div>
  );
}

function nextKey(entries: [string, any][]): string {
  const keys = new Set(entries.map(([k]) => k));
  for (let i = 1; ; i++) if (!keys.has(`field${i}`)) return `field${i}`;
}

/** oneOf/anyOf alternatives titled by their `type` constant (e.g. "header") instead of "Option 2". */
export function titled(schema: any): any {
  if (!schema || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map(titled);
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) out[k] = typeof v === "object" ? titled(v) : v;
  for (const key of ["oneOf", "anyOf"]) {
    if (!Array.isArray(out[key])) continue;
    out[key] = out[key].map((alt: any, i: number) => {
      if (alt.title) return alt;
      const c = alt.properties?.type?.const ?? alt.const;
      return { ...alt, title: c !== undefined ? String(c) : alt.type === "null" ? "none" : alt.type ? String(alt.type) : `option ${i + 1}` };
    });
  }
  return out;
}

/** uiSchema for a config_schema: which of our fields/widgets each property gets. */
export function uiSchemaFor(schema: any, name = ""): any {
  if (!schema || typeof schema !== "object") return {};
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (name === "condition" || (types.includes("object") && types.includes("string") && /condition/i.test(schema.description ?? "")))
    return { "ui:field": "condition" };
  if (types.length > 1 || (!types.length && !schema.enum && !schema.const && !schema.oneOf && !schema.anyOf && !schema.properties))
    return { "ui:field": "json" };
  if (schema.anyOf && schema.anyOf.some((s: any) => s.type === "null")) {
    const other = schema.anyOf.find((s: any) => s.type !== "null");
    if (other?.type === "string") return { "ui:widget": "TextWidget" };
  }
  if (types[0] === "object" && !schema.properties && !schema.oneOf) return { "ui:field": "keyvalue" };
  const ui: any = {};
  if (schema.properties) for (const [k, sub] of Object.entries<any>(schema.properties)) ui[k] = uiSchemaFor(sub, k);
  if (types[0] === "array" && schema.items) ui.items = uiSchemaFor(schema.items, name);
  return ui;
}
