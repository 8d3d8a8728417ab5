// Dialogs: run now, import/export, shortcuts, variables, settings, versions, more (duplicate,
// delete), edge mapping, and the conflict choices.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, workflows, type NodeTypeInfo } from "../lib/api";
import type { Boot } from "./App";
import { editUrl } from "./persist";
import { SHORTCUTS } from "./shortcuts";
import { useBuilder } from "./store";
import { VersionsDialog } from "./versions";
import { MappingDialog, MoreDialog, SettingsDialog, VariablesDialog } from "./dialogs2";

export type DialogName = "run" | "import" | "export" | "shortcuts" | "variables" | "settings" | "versions" | "more" | "mapping";

export function Modal({ title, onClose, children, testid, wide }: { title: string; onClose: () => void; children: ReactNode; testid: string; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const first = ref.current?.querySelector<HTMLElement>("textarea, input, select, button:not(.by-modal-close)");
    first?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="by-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`by-modal${wide ? " is-wide" : ""}`} role="dialog" aria-modal="true" aria-label={title} data-testid={testid} ref={ref}>
        <header><h2>{title}</h2><button type="button" className="by-icon-btn by-modal-close" aria-label="Close" onClick={onClose}>×</button></header>
        <div className="by-modal-body">{children}</div>
      </div>
    </div>
  );
}

function JsonEditor({ value, onChange, rows = 10, testid, label }: { value: string; onChange: (v: string) => void; rows?: number; testid?: string; label: string }) {
  return <textarea className="by-json" rows={rows} value={value} aria-label={label} data-testid={testid} spellCheck={false} onChange={(e) => onChange(e.target.value)} />;
}

export function sampleInput(triggerType: string | undefined, config: any): any {
  if (triggerType === "trigger.webhook") return { body: { example: "value" }, query: {}, headers: {}, method: config?.method && config.method !== "ANY" ? config.method : "POST" };
  if (triggerType === "trigger.form") {
    const fields = Object.fromEntries((config?.fields ?? []).map((f: any) => [f.name, f.type === "number" ? 1 : ""]));
    return { fields };
  }
  if (triggerType === "trigger.schedule") return { scheduled_at: new Date().toISOString() };
  return { amount: 150 };
}

function RunDialog({ onClose, types }: { onClose: () => void; types: NodeTypeInfo[] }) {
  const s = useBuilder();
  const trigger = s.nodes.find((n) => types.find((t) => t.type === n.data.node.type)?.is_trigger);
  const [text, setText] = useState(() => JSON.stringify(sampleInput(trigger?.data.node.type, trigger?.data.node.config), null, 2));
  const [result, setResult] = useState<any>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  async function run() {
    setError(null);
    setResult(null);
    let input: any;
    try {
      input = JSON.parse(text);
    } catch (err) {
      return setError(`The input is not JSON: ${(err as Error).message}`);
    }
    if (!s.workflowId) return setError("Save the workflow first.");
    setRunning(true);
    try {
      const run = await workflows.execute(s.workflowId, { input, mode: "test", wait: true, timeout_s: 30 });
      setResult(run);
      const statuses = Object.fromEntries((run.nodes ?? []).map((n: any) => [n.node_id, n.status]));
      useBuilder.setState({ runStatuses: statuses } as any);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);
    } finally {
      setRunning(false);
    }
  }
  return (
    <Modal title="Run now (test)" onClose={onClose} testid="run-dialog" wide>
      <p className="by-help">The run uses the saved version (v{s.version}). Input{trigger ? ` shaped for ${trigger.data.node.type}` : ""}:</p>
      <JsonEditor value={text} onChange={setText} label="Run input" testid="run-input" />
      <div className="by-modal-actions">
        <button type="button" className="primary" data-testid="run-start" disabled={running} onClick={() => void run()}>{running ? "Running…" : "Run"}</button>
      </div>
      {error && <div className="by-field-error" role="alert">{error}</div>}
      {result && (
        <div className="by-run-result" data-testid="run-result" data-status={result.status}>
          <p>Run <a href={`/runs/${result.id}`}>{result.id.slice(0, 8)}</a>: <span className={`status status-${result.status}`}>{result.status}</span> in {result.duration_ms ?? "?"} ms</p>
          <pre>{JSON.stringify(result.error ?? result.output, null, 2)}</pre>
        </div>
      )}
    </Modal>
  );
}

function ImportDialog({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [issues, setIssues] = useState<string[]>([]);
  const parse = () => {
    try {
      const doc = JSON.parse(text);
      if (!doc || typeof doc !== "object" || !Array.isArray(doc.nodes) || !Array.isArray(doc.edges)) throw new Error("expected a switchyard.workflow/1 document with nodes and edges");
      return doc;
    } catch (err) {
      setError(`Not a workflow document: ${(err as Error).message}`);
      return null;
    }
  };
  async function asNew() {
    const doc = parse();
    if (!doc) return;
    try {
      const wf = await workflows.importDoc(doc);
      window.location.assign(editUrl(wf.id));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : (err as Error).message);
      if (err instanceof ApiError) setIssues(err.issues.map((i) => `${i.node ?? ""} ${i.field ?? ""}: ${i.message}`));
    }
  }
  function intoCanvas() {
    const doc = parse();
    if (!doc) return;
    useBuilder.getState().load({ ...useBuilder.getState().meta, ...doc }, { keepHistory: true });
    useBuilder.setState((st) => ({ changeCounter: st.changeCounter + 1, saveState: "dirty" }));
    onClose();
  }
  return (
    <Modal title="Import a workflow" onClose={onClose} testid="import-dialog" wide>
      <p className="by-help">Paste interchange JSON (<code>switchyard.workflow/1</code>) or choose a file.</p>
      <input type="file" accept="application/json,.json" data-testid="import-file" onChange={async (e) => {
        const f = e.target.files?.[0];
        if (f) setText(await f.text());
      }} />
      <JsonEditor value={text} onChange={setText} rows={14} label="Workflow JSON" testid="import-text" />
      {error && <div className="by-field-error" role="alert">{error}{issues.length > 0 && <ul>{issues.map((i, n) => <li key={n}>{i}</li>)}</ul>}</div>}
      <div className="by-modal-actions">
        <button type="button" data-testid="import-replace" onClick={intoCanvas}>Replace this canvas (draft)</button>
        <button type="button" className="primary" data-testid="import-new" onClick={() => void asNew()}>Import as a new workflow</button>
      </div>
    </Modal>
  );
}

function ExportDialog({ onClose }: { onClose: () => void }) {
  const doc = useBuilder.getState().document();
  const text = JSON.stringify(doc, null, 2);
  const [copied, setCopied] = useState(false);
  const href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const file = `${(doc.name || "workflow").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "workflow"}.json`;
  return (
    <Modal title="Export" onClose={onClose} testid="export-dialog" wide>
      <p className="by-help">The interchange JSON of what is on the canvas.</p>
      <textarea className="by-json" rows={16} readOnly value={text} data-testid="export-text" aria-label="Exported JSON" />
      <div className="by-modal-actions">
        <button type="button" onClick={() => navigator.clipboard?.writeText(text).then(() => setCopied(true), () => setCopied(false))}>{copied ? "Copied" : "Copy"}</button>
        <a className="button primary" href={href} download={file} data-testid="export-download">Download {file}</a>
      </div>
    </Modal>
  );
}

export { JsonEditor };

function Shortcuts({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} testid="shortcuts">
      <table className="grid"><tbody>{SHORTCUTS.map(([k, v]) => <tr key={k}><td><kbd>{k}</kbd></td><td>{v}</td></tr>)}</tbody></table>
    </Modal>
  );
}

export function Dialogs({ open, onClose, boot, types }: { open: DialogName | null; onClose: () => void; boot: Boot; types: NodeTypeInfo[] }) {
  const s = useBuilder();
  switch (open) {
    case "run": return <RunDialog onClose={onClose} types={types} />;
    case "import": return <ImportDialog onClose={onClose} />;
    case "export": return <ExportDialog onClose={onClose} />;
    case "shortcuts": return <Shortcuts onClose={onClose} />;
    case "versions": return <VersionsDialog onClose={onClose} />;
    case "variables":
      return <VariablesDialog onClose={onClose} />;
    case "settings":
      return <SettingsDialog onClose={onClose} />;
    case "more": return <MoreDialog onClose={onClose} boot={boot} />;
    case "mapping": return <MappingDialog onClose={onClose} />;
    default: return null;
  }
}

