// The Providers page (/providers/): connect n8n, Make and Zapier (with Test), browse a
// connection's remote workflows (active, tags, updated), preview one on the canvas, add it
// to a workflow as a configured provider node, and see recent executions.
import { useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { WorkflowPreview } from "../canvas";
import { api, ApiError, type NodeTypeInfo } from "../lib/api";
import "./providers.css";

type Catalog = { provider: string; label: string; credential_fields: string[]; base_url_help: string; default_wait: string; can_list: boolean };
type Boot = { can_write: boolean; catalog: Catalog[]; workflows: { id: string; name: string }[] };
type Connection = { id: string; name: string; provider: string; base_url: string; credential: string | null; status: string; last_error: string | null; last_sync: string | null; can_list: boolean; default_wait: string; settings: Record<string, any> };
type Remote = { remote_id: string; name: string; active: boolean | null; tags: string[]; updated_at: string | null };
type Preview = { remote_id: string; name: string; graph: { nodes: any[]; edges: any[] }; inputs: any[]; outputs: any[] };

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—");
const message = (e: unknown) => (e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));

function ConnectDialog({ catalog, onDone, onClose }: { catalog: Catalog[]; onDone: (c: Connection) => void; onClose: () => void }) {
  const [provider, setProvider] = useState(catalog[0]?.provider ?? "n8n");
  const info = catalog.find((c) => c.provider === provider)!;
  const [name, setName] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [teamId, setTeamId] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  async function save() {
    setBusy(true);
    setResult(null);
    try {
      let credential: string | null = null;
      const field = info.credential_fields[0];
      if (field) {
        credential = `${provider}_${name.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 90);
        await api.post("credentials/", { name: credential, kind: "custom", data: { [field]: secret } });
      }
      const conn: Connection = await api.post("providers/connections/", {
        name, provider, base_url: baseUrl, credential, settings: teamId ? { team_id: teamId } : {},
      });
      setSecret(""); // stored in the credential; the page keeps no copy
      const test = await api.post(`providers/connections/${conn.id}/test`);
      setResult(test.ok ? { ok: true, text: "Connected." } : { ok: false, text: `${test.error.category}: ${test.error.message}` });
      onDone({ ...conn, status: test.ok ? "ok" : "error" });
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="pv-dialog" role="dialog" data-testid="connect-dialog">
      <h2>Connect a provider</h2>
      <div className="pv-tabs">
        {catalog.map((c) => (
          <button key={c.provider} className={c.provider === provider ? "is-on" : ""} onClick={() => setProvider(c.provider)} data-testid={`provider-${c.provider}`}>
            {c.label}
          </button>
        ))}
      </div>
      <label className="field">Name<input value={name} onChange={(e) => setName(e.target.value)} data-testid="connect-name" /></label>
      <label className="field">{provider === "zapier" ? "Catch Hook URL" : provider === "make" ? "Zone base URL" : "Instance URL"}
        <input value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder={info.base_url_help.replace(/^.*e\.g\. /, "")} data-testid="connect-url" />
        <span className="muted small">{info.base_url_help}</span>
      </label>
      {info.credential_fields.map((f) => (
        <label className="field" key={f}>{f === "api_key" ? "API key" : "API token"}
          <input type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} data-testid="connect-secret" />
          <span className="muted small">Stored encrypted in the workspace credentials; never shown again.</span>
        </label>
      ))}
      {provider === "make" && (
        <label className="field">Team id<input value={teamId} onChange={(e) => setTeamId(e.target.value)} data-testid="connect-team" /></label>
      )}
      {result && <p className={result.ok ? "pv-ok" : "pv-error"} data-testid="connect-result">{result.text}</p>}
      <div className="pv-actions">
        <button className="button primary" disabled={busy || !name || !baseUrl} onClick={save} data-testid="connect-test">
          {busy ? "Testing…" : "Save and test"}
        </button>
        <button className="button" onClick={onClose}>Close</button>
      </div>
    </div>
  );
}

function previewTypes(preview: Preview): NodeTypeInfo[] {
  const handles: Record<string, Set<string>> = {};
  const typeOf: Record<string, string> = Object.fromEntries(preview.graph.nodes.map((n) => [String(n.id), String(n.type)]));
  for (const e of preview.graph.edges) (handles[typeOf[e.source]] ??= new Set()).add(e.source_handle || "main");
  return [...new Set(Object.values(typeOf))].map((type) => ({
    type, label: String(type).split(/[.:]/).pop() || type, category: "provider", description: "", icon: "",
    is_trigger: false, handles: [...(handles[type] ?? new Set(["main"]))], dynamic_handles: false,
    config_schema: {}, input_schema: {}, output_schema: {},
  }));
}

function AddToWorkflow({ boot, conn, remote }: { boot: Boot; conn: Connection; remote: Remote }) {
  const [target, setTarget] = useState(boot.workflows[0]?.id ?? "new");
  const [error, setError] = useState("");
  async function add() {
    setError("");
    const nodeId = `${conn.provider}_${remote.remote_id}`.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 50);
    const node = {
      id: /^[a-z]/.test(nodeId) ? nodeId : `p_${nodeId}`,
      type: `provider.${conn.provider}`,
      name: remote.name,
      config: { connection: conn.name, ...(conn.provider === "zapier" ? {} : { workflow: remote.remote_id }), data: {}, wait: conn.default_wait },
      position: [320, 0] as [number, number],
    };
    try {
      if (target === "new") {
        const created = await api.post("workflows/", {
          schema: "switchyard.workflow/1", name: `Run ${remote.name}`,
          nodes: [{ id: "start", type: "trigger.manual", position: [0, 0] }, node],
          edges: [{ source: "start", target: node.id }],
        });
        location.href = `/workflows/${created.id}/edit`;
        return;
      }
      const [wf, draft] = await Promise.all([api.get(`workflows/${target}`), api.get(`workflows/${target}/draft`)]);
      const doc = draft.document ?? (await api.get(`workflows/${target}/export`));
      const ids = new Set(doc.nodes.map((n: any) => n.id));
      let id = node.id;
      for (let i = 2; ids.has(id); i++) id = `${node.id}_${i}`;
      const maxX = Math.max(0, ...doc.nodes.map((n: any) => (n.position ? n.position[0] : 0)));
      doc.nodes.push({ ...node, id, position: [maxX + 260, 0] });
      await api.put(`workflows/${target}/draft`, { document: doc, base_version: draft.base_version ?? wf.version });
      location.href = `/workflows/${target}/edit`;
    } catch (e) {
      setError(message(e));
    }
  }
  return (
    <div className="pv-add">
      <select value={target} onChange={(e) => setTarget(e.target.value)} data-testid="add-target">
        <option value="new">A new workflow</option>
        {boot.workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
      </select>
      <button className="button primary" disabled={!boot.can_write} onClick={add} data-testid="add-to-workflow">Add to workflow</button>
      {error && <span className="pv-error">{error}</span>}
    </div>
  );
}

function ConnectionPanel({ boot, conn }: { boot: Boot; conn: Connection }) {
  const [remotes, setRemotes] = useState<Remote[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [selected, setSelected] = useState<Remote | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [executions, setExecutions] = useState<any[]>([]);
  async function load(cursor: string | null) {
    setError("");
    if (!conn.can_list) {
      setRemotes([{ remote_id: conn.base_url, name: `${conn.name} (Catch Hook)`, active: null, tags: [], updated_at: null }]);
      return;
    }
    try {
      const page = await api.get(`providers/connections/${conn.id}/workflows?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      setRemotes((old) => (cursor ? [...old, ...page.results] : page.results));
      setNext(page.next);
    } catch (e) {
      setError(message(e));
    }
  }
  useEffect(() => {
    setSelected(null);
    setPreview(null);
    load(null);
    api.get(`providers/connections/${conn.id}/executions`).then((r) => setExecutions(r.results), () => setExecutions([]));
  }, [conn.id]);
  async function open(remote: Remote) {
    setSelected(remote);
    setPreview(null);
    if (!conn.can_list) return;
    try {
      setPreview(await api.get(`providers/connections/${conn.id}/workflows/${encodeURIComponent(remote.remote_id)}`));
    } catch (e) {
      setError(message(e));
    }
  }
  const doc = useMemo(
    () => preview && { nodes: preview.graph.nodes.map((n) => ({ id: n.id, type: n.type, name: n.name, position: n.position })), edges: preview.graph.edges },
    [preview],
  );
  const types = useMemo(() => (preview ? previewTypes(preview) : undefined), [preview]);
  return (
    <section className="card pv-panel" data-testid="connection-panel">
      <h2>{conn.name} <span className={`pill status-${conn.status}`}>{conn.status}</span></h2>
      {conn.last_error && <p className="pv-error">{conn.last_error}</p>}
      {error && <p className="pv-error" data-testid="remote-error">{error}</p>}
      <table className="grid" data-testid="remote-workflows">
        <thead><tr><th>Workflow</th><th>Active</th><th>Tags</th><th>Updated</th></tr></thead>
        <tbody>
          {remotes.length === 0 && <tr><td colSpan={4} className="muted">No workflows found at this provider.</td></tr>}
          {remotes.map((r) => (
            <tr key={r.remote_id} className={selected?.remote_id === r.remote_id ? "is-selected" : ""} onClick={() => open(r)} data-testid="remote-workflow-row">
              <td><a href="#" onClick={(e) => e.preventDefault()}>{r.name}</a> <span className="muted small">{conn.can_list ? r.remote_id : ""}</span></td>
              <td>{r.active === null ? "—" : r.active ? "active" : <span className="muted">inactive</span>}</td>
              <td>{r.tags.map((t) => <span className="pill" key={t}>{t}</span>)}</td>
              <td className="muted">{when(r.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && <button className="button" onClick={() => load(next)} data-testid="load-more">Load more</button>}
      {selected && (
        <div className="pv-selected">
          <h3>{selected.name}</h3>
          {doc ? (
            <div className="pv-canvas" data-testid="preview-canvas"><WorkflowPreview document={doc} nodeTypes={types} /></div>
          ) : conn.can_list ? <p className="muted">Loading the preview…</p> : <p className="muted">Zapier does not publish its Zaps' steps; the node sends data to the hook and waits for the Zap's callback.</p>}
          {preview && (preview.inputs.length > 0 || preview.outputs.length > 0) && (
            <p className="small muted">Inputs: {preview.inputs.map((i) => i.name).join(", ") || "—"} · Outputs: {preview.outputs.map((o) => o.name).join(", ") || "—"}</p>
          )}
          <AddToWorkflow boot={boot} conn={conn} remote={selected} />
        </div>
      )}
      <h3>Recent executions</h3>
      <table className="grid" data-testid="executions-table">
        <thead><tr><th>Started</th><th>Workflow</th><th>Wait</th><th>Status</th><th>Polls</th><th>Run</th></tr></thead>
        <tbody>
          {executions.length === 0 && <tr><td colSpan={6} className="muted">Nothing has run through this connection yet.</td></tr>}
          {executions.map((e) => (
            <tr key={e.id}>
              <td className="muted">{when(e.started_at)}</td>
              <td>{e.remote_id} <span className="muted small">{e.execution_id ?? ""}</span></td>
              <td>{e.wait}</td>
              <td><span className={`pill status-${e.status}`} data-testid="execution-status">{e.status}</span></td>
              <td>{e.polls}</td>
              <td>{e.run ? <a href={`/runs/${e.run}`}>{e.node_id}</a> : <span className="muted">API</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function App({ boot }: { boot: Boot }) {
  const [connections, setConnections] = useState<Connection[]>([]);
  const [current, setCurrent] = useState<Connection | null>(null);
  const [dialog, setDialog] = useState(false);
  const [testing, setTesting] = useState<Record<string, string>>({});
  useEffect(() => {
    api.get("providers/connections/").then((r) => { setConnections(r.results); setCurrent(r.results[0] ?? null); });
  }, []);
  async function test(conn: Connection) {
    setTesting((t) => ({ ...t, [conn.id]: "testing…" }));
    const res = await api.post(`providers/connections/${conn.id}/test`).catch((e) => ({ ok: false, error: { message: message(e) } }));
    setTesting((t) => ({ ...t, [conn.id]: res.ok ? "ok" : res.error.message }));
    setConnections((cs) => cs.map((c) => (c.id === conn.id ? { ...c, status: res.ok ? "ok" : "error" } : c)));
  }
  return (
    <div className="pv-page" data-testid="providers-page">
      <section className="page-head">
        <div>
          <h1>Providers</h1>
          <p className="muted">Run the workflows you keep in n8n, Make and Zapier as nodes of your own, and wait for them by polling or by callback.</p>
        </div>
        {boot.can_write && <button className="button primary" onClick={() => setDialog(true)} data-testid="connect-button">Connect a provider</button>}
      </section>
      {dialog && (
        <ConnectDialog catalog={boot.catalog} onClose={() => setDialog(false)}
          onDone={(c) => { setConnections((cs) => [...cs.filter((x) => x.id !== c.id), c]); setCurrent(c); }} />
      )}
      {connections.length === 0 ? (
        <section className="card empty-state" data-testid="providers-empty">
          <h2>No provider connected yet</h2>
          <p className="muted">Connect an n8n instance (URL + API key), a Make zone (zone URL + API token) or a Zapier Catch Hook (its URL) to browse and run their workflows here.</p>
        </section>
      ) : (
        <table className="grid" data-testid="connections-table">
          <thead><tr><th>Connection</th><th>Provider</th><th>Status</th><th>Last sync</th><th></th></tr></thead>
          <tbody>
            {connections.map((c) => (
              <tr key={c.id} className={current?.id === c.id ? "is-selected" : ""} data-testid="connection-row">
                <td><a href="#" onClick={(e) => { e.preventDefault(); setCurrent(c); }}>{c.name}</a> <span className="muted small">{c.base_url}</span></td>
                <td>{c.provider}</td>
                <td><span className={`pill status-${c.status}`} data-testid="connection-status">{c.status}</span> <span className="small">{testing[c.id] ?? ""}</span></td>
                <td className="muted">{when(c.last_sync)}</td>
                <td>{boot.can_write && <button className="button" onClick={() => test(c)} data-testid="test-button">Test</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {current && <ConnectionPanel key={current.id} boot={boot} conn={current} />}
    </div>
  );
}

const el = document.getElementById("providers-root");
if (el) {
  const bootEl = document.getElementById("providers-boot");
  const boot: Boot = bootEl ? JSON.parse(bootEl.textContent || "{}") : { can_write: false, catalog: [], workflows: [] };
  createRoot(el).render(<App boot={boot} />);
}
