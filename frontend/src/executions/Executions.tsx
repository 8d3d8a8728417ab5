// The executions page: filters, search, server-side pages, the failure reason of each row
// (linking to the failing node on the run page), bulk retry/cancel, live rows for active runs.
import { useCallback, useEffect, useMemo, useState } from "react";
import { api } from "../lib/api";
import { connectRun, type LiveConnection } from "../lib/ws";

export type Boot = { workflows: { id: string; name: string }[]; trigger_types: string[]; can_write: boolean };

type Row = {
  id: string;
  workflow: string;
  workflow_name: string;
  status: string;
  mode: string;
  trigger_type: string;
  created_at: string;
  duration_ms: number | null;
  failure: { node_id: string | null; category: string; message: string } | null;
  start_node: string | null;
  retry_of: string | null;
};

const STATUSES = ["pending", "running", "waiting", "completed", "partial", "failed", "cancelled"];
const ACTIVE = ["pending", "running", "waiting"];
const FIELDS = ["workflow", "status", "mode", "trigger_type", "since", "until", "q", "page"] as const;
const MAX_LIVE = 25;

function readFilters(): Record<string, string> {
  const q = new URLSearchParams(location.search);
  return Object.fromEntries(FIELDS.map((f) => [f, q.get(f) ?? ""]));
}

export function Executions({ boot }: { boot: Boot }) {
  const [filters, setFilters] = useState<Record<string, string>>(readFilters());
  const [draft, setDraft] = useState<Record<string, string>>(readFilters());
  const [rows, setRows] = useState<Row[]>([]);
  const [count, setCount] = useState(0);
  // When input text was looked for in the newest runs only (SQLite), how many were searched.
  const [window_, setWindow] = useState<number | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState(""); // the outcome of the last bulk action
  const [loadError, setLoadError] = useState("");
  const [loading, setLoading] = useState(true);

  const query = useMemo(() => {
    const q = new URLSearchParams();
    for (const f of FIELDS) if (filters[f]) q.set(f, filters[f]);
    return q.toString();
  }, [filters]);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const page = await api.get<any>(`/api/v1/runs?${query}`);
      setRows(page.results);
      setCount(page.count);
      setWindow(typeof page.search_window === "number" ? page.search_window : null);
      setNext(page.next);
      setLoadError("");
    } catch (e: any) {
      setLoadError(e.message);
      setRows([]);
    } finally {
      setLoading(false);
    }
  }, [query]);

  useEffect(() => {
    history.replaceState(null, "", query ? `/runs?${query}` : "/runs");
    load();
  }, [query, load]);

  // Live rows: a run stream per active run on this page (bounded).
  const activeIds = rows.filter((r) => ACTIVE.includes(r.status)).map((r) => r.id).slice(0, MAX_LIVE).join(",");
  useEffect(() => {
    if (!activeIds) return;
    const conns: LiveConnection[] = activeIds.split(",").map((id) =>
      connectRun(id, {
        onEvent: (e: any) => {
          const status = e.type === "snapshot" ? e.run.status : e.type === "run.status" ? e.status : null;
          if (!status) return;
          setRows((rs) => rs.map((r) => (r.id === id ? { ...r, status } : r)));
          if (!ACTIVE.includes(status)) window.setTimeout(load, 200);
        },
      }),
    );
    return () => conns.forEach((c) => c.close());
  }, [activeIds, load]);

  const apply = (event?: React.FormEvent) => {
    event?.preventDefault();
    setMessage("");
    setFilters({ ...draft, page: "" });
    setSelected(new Set());
  };
  const page = Number(filters.page || "1");
  const goto = (p: number) => setFilters({ ...filters, page: p > 1 ? String(p) : "" });
  const bulk = async (action: "retry" | "cancel", from?: string) => {
    const ids = [...selected];
    let res: any;
    try {
      res = await api.post<any>(`/api/v1/runs/bulk-${action}`, { ids, ...(from ? { from } : {}) });
    } catch (e: any) {
      setMessage(e.message);
      return;
    }
    const failed = res.results.filter((r: any) => !r.ok);
    setMessage(
      `${action === "retry" ? "Retried" : "Cancelled"} ${res.succeeded} of ${ids.length}` +
        (failed.length ? ` — refused: ${failed.map((r: any) => `${r.id.slice(0, 8)} (${r.error.message})`).join("; ")}` : "."),
    );
    setSelected(new Set());
    load();
  };
  const toggle = (id: string) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSelected(s);
  };
  const field = (name: string) => ({
    value: draft[name] ?? "",
    onChange: (e: any) => setDraft({ ...draft, [name]: e.target.value }),
    name,
  });

  return (
    <div className="rv-page">
      <section className="card">
        <form className="ex-filters" onSubmit={apply} data-testid="executions-filters">
          <label>Search<input type="search" placeholder="run id or input text" {...field("q")} data-testid="executions-search" /></label>
          <label>Workflow
            <select {...field("workflow")}>
              <option value="">all</option>
              {boot.workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
            </select>
          </label>
          <label>Status
            <select {...field("status")} data-testid="filter-status">
              <option value="">all</option>
              {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
          <label>Mode
            <select {...field("mode")}>
              <option value="">all</option>
              <option value="live">live</option>
              <option value="test">test</option>
            </select>
          </label>
          <label>Trigger
            <select {...field("trigger_type")}>
              <option value="">all</option>
              {boot.trigger_types.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </label>
          <label>From<input type="date" {...field("since")} /></label>
          <label>To<input type="date" {...field("until")} /></label>
          <button type="submit" className="primary">Apply</button>
        </form>
      </section>
      {loadError && <div className="alert alert-error" role="alert">{loadError}</div>}
      {message && <div className="alert alert-info" role="status" data-testid="executions-message">{message}</div>}
      <section className="card">
        <div className="ex-bulk">
          <strong>{count} run{count === 1 ? "" : "s"}</strong>
          {boot.can_write && (
            <>
              <button type="button" disabled={!selected.size} onClick={() => bulk("retry", "start")} data-testid="bulk-retry">Retry selected</button>
              <button type="button" disabled={!selected.size} onClick={() => bulk("retry", "failed")}>Retry selected from failed node</button>
              <button type="button" className="danger-outline" disabled={!selected.size} onClick={() => bulk("cancel")} data-testid="bulk-cancel">Cancel selected</button>
            </>
          )}
        </div>
        {window_ !== null && (
          <p className="muted small" data-testid="search-window">
            Input text was searched in the newest {window_.toLocaleString("en")} runs only; narrow by workflow or date to look further back.
          </p>
        )}
        {!rows.length ? (
          <p className="empty">{loading ? "Loading…" : Object.values(filters).some(Boolean) ? "No run matches these filters." : "No run yet: run a workflow and it shows up here."}</p>
        ) : (
          <table className="ex-table" data-testid="executions-table">
            <thead>
              <tr>
                <th><input type="checkbox" aria-label="Select all" checked={selected.size === rows.length} onChange={() => setSelected(selected.size === rows.length ? new Set() : new Set(rows.map((r) => r.id)))} /></th>
                <th>Run</th><th>Workflow</th><th>Status</th><th>Trigger</th><th>Started</th><th>Duration</th><th>Failure</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-run={r.id} data-status={r.status}>
                  <td><input type="checkbox" aria-label={`Select ${r.id}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} /></td>
                  <td><a href={`/runs/${r.id}`}><code>{r.id.slice(0, 8)}</code></a>{r.mode === "test" && <span className="badge-test">test</span>}</td>
                  <td><a href={`/workflows/${r.workflow}/`}>{r.workflow_name}</a></td>
                  <td><span className={`status status-${r.status}`}>{r.status}</span></td>
                  <td className="small">{r.trigger_type}</td>
                  <td className="small"><time dateTime={r.created_at}>{new Date(r.created_at).toLocaleString()}</time></td>
                  <td className="small">{r.duration_ms == null ? "—" : `${r.duration_ms} ms`}</td>
                  <td>
                    {r.failure && (
                      <a className="ex-failure" data-testid="failure-reason" href={`/runs/${r.id}${r.failure.node_id ? `#node=${r.failure.node_id}` : ""}`}>
                        {r.failure.node_id && <code>{r.failure.node_id}</code>} {r.failure.category}: {r.failure.message}
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="ex-pager">
          <button type="button" disabled={page <= 1} onClick={() => goto(page - 1)}>Previous</button>
          <span className="small">Page {page}</span>
          <button type="button" disabled={!next} onClick={() => goto(page + 1)} data-testid="next-page">Next</button>
        </div>
      </section>
    </div>
  );
}
