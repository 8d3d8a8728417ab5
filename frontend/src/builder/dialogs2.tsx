// Settings, the lifecycle menu (duplicate, delete) and the edge mapping dialog.
import { useState } from "react";
import { ApiError, workflows } from "../lib/api";
import type { Boot } from "./App";
import { Modal } from "./dialogs";
import { ExpressionInput } from "./ExpressionInput";
import { editUrl, flushDraft } from "./persist";
import { scopeNames } from "./scope";
import { useBuilder } from "./store";

const TIMEZONES = (() => {
  try {
    return (Intl as any).supportedValuesOf("timeZone") as string[];
  } catch {
    return ["UTC"];
  }
})();

export function SettingsDialog({ onClose }: { onClose: () => void }) {
  const s = useBuilder();
  const settings = s.meta.settings ?? {};
  const [timeout, setTimeoutS] = useState(String(settings.timeout_s ?? 300));
  const [maxRuns, setMaxRuns] = useState(settings.max_runs_per_day == null ? "" : String(settings.max_runs_per_day));
  const [tz, setTz] = useState(settings.timezone ?? "");
  const [description, setDescription] = useState(s.meta.description ?? "");
  return (
    <Modal title="Workflow settings" onClose={onClose} testid="settings-dialog">
      <label className="by-field"><span className="by-label">Description</span>
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} /></label>
      <label className="by-field"><span className="by-label">Run timeout (seconds)</span>
        <input type="number" min={1} data-testid="settings-timeout" value={timeout} onChange={(e) => setTimeoutS(e.target.value)} /></label>
      <label className="by-field"><span className="by-label">Max runs per day (empty: no limit)</span>
        <input type="number" min={1} data-testid="settings-max-runs" value={maxRuns} onChange={(e) => setMaxRuns(e.target.value)} /></label>
      <label className="by-field"><span className="by-label">Timezone</span>
        <select value={tz} data-testid="settings-timezone" onChange={(e) => setTz(e.target.value)}>
          <option value="">(server default, UTC)</option>
          {TIMEZONES.map((z) => <option key={z} value={z}>{z}</option>)}
        </select></label>
      <div className="by-modal-actions">
        <button type="button" className="primary" data-testid="settings-apply" onClick={() => {
          const next: Record<string, any> = { ...settings, timeout_s: timeout === "" ? 300 : Number(timeout), max_runs_per_day: maxRuns === "" ? null : Number(maxRuns) };
          if (tz) next.timezone = tz;
          else delete next.timezone;
          s.setMeta({ settings: next, description });
          onClose();
        }}>Apply</button>
      </div>
    </Modal>
  );
}

export function MoreDialog({ onClose, boot }: { onClose: () => void; boot: Boot }) {
  const s = useBuilder();
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<null | { triggers: any[] }>(null);
  async function duplicate() {
    try {
      await flushDraft();
      const doc = useBuilder.getState().document();
      const wf = await workflows.create({ ...doc, name: `${doc.name || "Workflow"} (copy)` });
      window.location.assign(editUrl(wf.id));
    } catch (err) {
      setError(err instanceof ApiError && err.issues.length ? "The copy needs a valid workflow: fix the problems first." : (err as Error).message);
    }
  }
  async function askDelete() {
    if (!s.workflowId) return;
    const wf = await workflows.get(s.workflowId);
    setConfirming({ triggers: wf.status === "active" ? wf.triggers ?? [] : [] });
  }
  async function remove() {
    if (!s.workflowId) return;
    await workflows.remove(s.workflowId);
    window.location.assign("/");
  }
  return (
    <Modal title="Workflow" onClose={onClose} testid="more-dialog">
      <div className="by-menu">
        <a className="button" href="/workflows/new" data-testid="new-workflow">New workflow…</a>
        {s.workflowId && <a className="button" href={`/workflows/${s.workflowId}/`}>Runs and triggers page</a>}
        <button type="button" data-testid="duplicate" disabled={!s.workflowId || !boot.can_write} onClick={() => void duplicate()}>Duplicate</button>
        <button type="button" className="danger" data-testid="delete" disabled={!s.workflowId || !boot.can_write} onClick={() => void askDelete()}>Delete…</button>
      </div>
      {confirming && (
        <div className="by-confirm" role="alertdialog" data-testid="delete-confirm">
          <p><strong>Delete “{s.meta.name}”?</strong> Its versions, drafts and runs go with it.</p>
          {confirming.triggers.length > 0 ? (
            <>
              <p>It is <strong>active</strong>; these triggers stop answering:</p>
              <ul data-testid="delete-triggers">{confirming.triggers.map((t: any) => <li key={t.node_id}><code>{t.node_id}</code> {t.type} {t.url ? <span className="small">{t.url}</span> : null}</li>)}</ul>
            </>
          ) : <p className="by-help">No active triggers.</p>}
          <button type="button" onClick={() => setConfirming(null)}>Cancel</button>
          <button type="button" className="danger" data-testid="delete-confirm-button" onClick={() => void remove()}>Delete for good</button>
        </div>
      )}
      {error && <div className="by-field-error" role="alert">{error}</div>}
    </Modal>
  );
}

export function MappingDialog({ onClose }: { onClose: () => void }) {
  const s = useBuilder();
  const edge = s.edges.find((e) => e.id === s.selectedEdgeId);
  const [rows, setRows] = useState<[string, string][]>(() => Object.entries(edge?.data?.edge.mapping ?? {}));
  if (!edge) return null;
  const getNames = () => {
    const st = useBuilder.getState();
    const names = scopeNames({ nodeId: edge.target, nodes: st.nodes, edges: st.edges, types: st.types, variables: st.meta.variables ?? {}, credentials: [], lastRun: null });
    const src = st.nodes.find((n) => n.id === edge.source);
    const props = src ? Object.keys(st.types[src.data.node.type]?.output_schema?.properties ?? {}) : [];
    return [{ label: "source", type: "variable" }, ...props.map((p) => ({ label: `source.${p}`, type: "property" })), ...names];
  };
  return (
    <Modal title={`Mapping ${edge.source} → ${edge.target}`} onClose={onClose} testid="mapping-dialog" wide>
      <p className="by-help">Fields set on the target's input from this edge: <code>{"{ target_field: template }"}</code>; <code>source</code> is {edge.source}'s output.</p>
      {rows.map(([k, v], i) => (
        <div className="by-kv-row" key={i}>
          <input className="by-kv-key" aria-label={`target field ${i + 1}`} value={k} onChange={(e) => setRows(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
          <ExpressionInput value={v} onChange={(nv) => setRows((cur) => cur.map((r, j) => (j === i ? [r[0], nv] : r)))} getNames={getNames} ariaLabel={`template ${i + 1}`} />
          <button type="button" className="by-icon-btn" aria-label="Remove" onClick={() => setRows(rows.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" className="by-link" onClick={() => setRows([...rows, [`field${rows.length + 1}`, "{{ source. }}"]])}>+ Add field</button>
      <div className="by-modal-actions">
        <button type="button" className="danger" onClick={() => { s.onEdgesChange([{ type: "remove", id: edge.id }]); onClose(); }}>Delete edge</button>
        <button type="button" className="primary" data-testid="mapping-apply" onClick={() => {
          const mapping = Object.fromEntries(rows.filter(([k]) => k.trim()));
          s.updateEdge(edge.id, { mapping });
          onClose();
        }}>Apply</button>
      </div>
    </Modal>
  );
}

type VarType = "string" | "number" | "boolean" | "json";
type VarRow = { name: string; type: VarType; value: string };

function toRow(name: string, value: any): VarRow {
  if (typeof value === "string") return { name, type: "string", value };
  if (typeof value === "number") return { name, type: "number", value: String(value) };
  if (typeof value === "boolean") return { name, type: "boolean", value: String(value) };
  return { name, type: "json", value: JSON.stringify(value) };
}

/** The row's value, or an error naming what is wrong. */
function parseRow(row: VarRow): { value?: any; error?: string } {
  if (row.type === "string") return { value: row.value };
  if (row.type === "boolean") return { value: row.value === "true" };
  if (row.type === "number") {
    const n = Number(row.value);
    return row.value.trim() === "" || !Number.isFinite(n) ? { error: "not a number" } : { value: n };
  }
  try {
    return { value: JSON.parse(row.value) };
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Workflow variables as rows of name, type and value: add, edit, remove. */
export function VariablesDialog({ onClose }: { onClose: () => void }) {
  const s = useBuilder();
  const [rows, setRows] = useState<VarRow[]>(() => Object.entries(s.meta.variables ?? {}).map(([k, v]) => toRow(k, v)));
  const [tried, setTried] = useState(false);
  const problems = rows.map((r, i) => {
    if (!VAR_NAME.test(r.name)) return "a name starts with a letter or _ and has letters, digits and _ only";
    if (rows.findIndex((o) => o.name === r.name) !== i) return "this name is used twice";
    return parseRow(r).error ?? null;
  });
  const set = (i: number, patch: Partial<VarRow>) => setRows((cur) => cur.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const apply = () => {
    setTried(true);
    if (problems.some(Boolean)) return;
    s.setMeta({ variables: Object.fromEntries(rows.map((r) => [r.name, parseRow(r).value])) });
    onClose();
  };
  return (
    <Modal title="Variables" onClose={onClose} testid="variables-dialog" wide>
      <p className="by-help">Workflow constants, usable in any template as <code>{"{{ variables.name }}"}</code>.</p>
      {rows.length === 0 && <p className="by-empty" data-testid="variables-empty">No variables yet.</p>}
      {rows.length > 0 && (
        <table className="by-vars" data-testid="variables-table">
          <thead><tr><th>Name</th><th>Type</th><th>Value</th><th /></tr></thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} data-testid="variable-row" data-invalid={tried && problems[i] ? "true" : undefined}>
                <td>
                  <input aria-label={`Name of variable ${i + 1}`} data-testid={`variable-name-${i}`} value={r.name} spellCheck={false} onChange={(e) => set(i, { name: e.target.value })} />
                  {tried && problems[i] && <div className="by-field-error" role="alert" data-testid={`variable-error-${i}`}>{problems[i]}</div>}
                </td>
                <td>
                  <select aria-label={`Type of variable ${i + 1}`} data-testid={`variable-type-${i}`} value={r.type} onChange={(e) => {
                    const type = e.target.value as VarType;
                    set(i, { type, value: type === "boolean" ? (r.value === "true" ? "true" : "false") : r.value });
                  }}>
                    <option value="string">text</option>
                    <option value="number">number</option>
                    <option value="boolean">true/false</option>
                    <option value="json">JSON</option>
                  </select>
                </td>
                <td>
                  {r.type === "boolean" ? (
                    <select aria-label={`Value of variable ${i + 1}`} data-testid={`variable-value-${i}`} value={r.value} onChange={(e) => set(i, { value: e.target.value })}>
                      <option value="true">true</option>
                      <option value="false">false</option>
                    </select>
                  ) : (
                    <input aria-label={`Value of variable ${i + 1}`} data-testid={`variable-value-${i}`} value={r.value} spellCheck={false}
                      inputMode={r.type === "number" ? "decimal" : undefined} onChange={(e) => set(i, { value: e.target.value })} />
                  )}
                </td>
                <td>
                  <button type="button" className="by-icon-btn" aria-label={`Remove variable ${r.name || i + 1}`} data-testid={`variable-remove-${i}`} onClick={() => setRows(rows.filter((_, j) => j !== i))}>×</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" className="by-link" data-testid="variable-add" onClick={() => setRows([...rows, { name: `var${rows.length + 1}`, type: "string", value: "" }])}>+ Add variable</button>
      <div className="by-modal-actions">
        <button type="button" className="primary" data-testid="variables-apply" onClick={apply}>Apply</button>
      </div>
    </Modal>
  );
}
