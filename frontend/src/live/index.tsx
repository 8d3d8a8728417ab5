// Live run state on the builder's canvas, and the node inspector (Logs and Test tabs, pin
// data, run from a node). Used by the builder; self-contained so pages can share it.
import { useCallback, useEffect, useRef, useState } from "react";
import type { NodeNote } from "../canvas";
import { api } from "../lib/api";
import { connectWorkflow } from "../lib/ws";
import { JsonTree } from "../run/JsonTree";
import { canvasState } from "../run/model";
import { instanceKey, type RunNode } from "../run/Timeline";
import { CallbackPanel, type Receipt } from "../run/CallbackPanel";
import "./live.css";

export type LiveRun = { id: string; nodes: RunNode[]; status?: string; callbacks?: Receipt[] };

type Stats = Record<string, { runs: number; success_ratio: number | null; avg_duration_ms: number | null }>;

function badge(s: Stats[string] | undefined): string | undefined {
  if (!s) return undefined;
  const ratio = s.success_ratio == null ? "–" : `${Math.round(s.success_ratio * 100)}% ok`;
  const avg = s.avg_duration_ms == null ? "" : ` · ${Math.round(s.avg_duration_ms)} ms`;
  return `${s.runs} today · ${ratio}${avg}`;
}

/** Statuses of the workflow's newest run (live from /ws/workflows/<id>/), badges (runs today,
 * success ratio, mean duration) and pinned outputs, as canvas props. */
export function useLiveCanvas(workflowId: string | null, doc: { nodes: any[]; edges: any[] }) {
  const [run, setRun] = useState<LiveRun | null>(null);
  const [stats, setStats] = useState<Stats>({});
  const [pins, setPins] = useState<Set<string>>(new Set());
  const timer = useRef<number | undefined>();
  const detailTimer = useRef<number | undefined>();
  const seq = useRef(0);
  const refresh = useCallback(() => {
    if (!workflowId) return;
    api.get(`/api/v1/workflows/${workflowId}/node-stats`).then((r) => setStats(r.nodes), () => {});
    api.get(`/api/v1/workflows/${workflowId}/pins`).then((r) => setPins(new Set(Object.keys(r.pins))), () => {});
  }, [workflowId]);
  // The run's detail (handles taken, waits, callback URLs, received callbacks) after a node
  // settles; fetched again if more events arrived while it was on its way.
  const loadRun = useCallback((runId: string) => {
    const at = seq.current;
    api.get<any>(`/api/v1/runs/${runId}`).then((d) => {
      setRun((r) => (r && r.id !== runId ? r : { id: runId, nodes: d.nodes, callbacks: d.callbacks ?? [], status: d.status }));
      if (seq.current !== at) refetchSoon(runId);
    }, () => {});
  }, []);
  const refetchSoon = useCallback((runId: string) => {
    window.clearTimeout(detailTimer.current);
    detailTimer.current = window.setTimeout(() => loadRun(runId), 200);
  }, [loadRun]);
  useEffect(() => {
    if (!workflowId) return;
    refresh();
    const conn = connectWorkflow(workflowId, {
      onEvent: (e: any) => {
        seq.current += 1;
        if (e.type === "snapshot") {
          setRun(e.latest_run ? { id: e.latest_run.id, nodes: e.latest_run.nodes, status: e.latest_run.status } : null);
          if (e.latest_run) refetchSoon(e.latest_run.id);
        } else if (e.type === "node.status") {
          setRun((r) => {
            const base = !r || r.id !== e.run_id ? { id: e.run_id, nodes: [] as RunNode[] } : r;
            const key = instanceKey(e.node_id, { iteration: e.iteration ?? null, iteration_path: e.iteration_path });
            const nodes = base.nodes.filter((n) => instanceKey(n.node_id, n) !== key);
            nodes.push({
              node_id: e.node_id, iteration: e.iteration ?? null, iteration_path: e.iteration_path ?? null, status: e.status, attempts: e.attempt ?? 0,
              error: e.error ?? null, duration_ms: e.duration_ms ?? null, input: null, output: null,
              started_at: null, completed_at: null,
            });
            if (!["running", "pending", "retrying"].includes(e.status)) refetchSoon(e.run_id);
            return { ...base, nodes };
          });
        } else if (e.type === "run.status") {
          setRun((r) => (r && r.id === e.run_id ? { ...r, status: e.status } : r));
          refetchSoon(e.run_id);
          if (!["running", "waiting", "pending"].includes(e.status)) {
            window.clearTimeout(timer.current);
            timer.current = window.setTimeout(refresh, 300);
          }
        }
      },
    });
    return () => {
      conn.close();
      window.clearTimeout(detailTimer.current);
    };
  }, [workflowId, refresh, refetchSoon]);
  const view = canvasState(doc, run?.nodes ?? [], pins);
  const notes: Record<string, NodeNote> = { ...view.notes };
  for (const n of doc.nodes) {
    const b = badge(stats[n.id]);
    if (b) notes[n.id] = { ...(notes[n.id] ?? {}), badge: b };
  }
  return { statuses: view.statuses, notes, activeEdges: view.activeEdges, runId: run?.id ?? null, run, pins, refresh, reloadRun: () => run && loadRun(run.id) };
}

type Execution = RunNode & { run_id: string; run_status: string; mode: string };

function LogsTab({ workflowId, nodeId, canWrite, onPinned }: { workflowId: string; nodeId: string; canWrite: boolean; onPinned: () => void }) {
  const [status, setStatus] = useState("");
  const [rows, setRows] = useState<Execution[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    api.get(`/api/v1/workflows/${workflowId}/nodes/${nodeId}/executions${status ? `?status=${status}` : ""}`).then((r) => setRows(r.results), () => setRows([]));
  }, [workflowId, nodeId, status]);
  const pin = async (runId: string) => {
    await api.put(`/api/v1/workflows/${workflowId}/pins/${nodeId}`, { run_id: runId });
    onPinned();
  };
  return (
    <div data-testid="inspector-logs">
      <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Status">
        <option value="">all</option>
        <option value="succeeded">success</option>
        <option value="failed">error</option>
      </select>
      {!rows.length ? (
        <p className="empty">This node has not run yet{status ? " with this status" : ""}.</p>
      ) : (
        <ul className="lv-execs">
          {rows.map((r) => {
            const key = instanceKey(r.run_id, r);
            return (
              <li key={key} data-status={r.status}>
                <button type="button" className="lv-exec-head" onClick={() => setOpen(open === key ? null : key)}>
                  <span className={`status status-${r.status}`}>{r.status}</span>
                  <span className="small">{r.started_at ? new Date(r.started_at).toLocaleString() : "—"}</span>
                  <span className="small muted">{r.duration_ms != null ? `${r.duration_ms} ms` : ""}</span>
                  {r.error && <span className="small lv-error">{r.error.category}: {r.error.message}</span>}
                </button>
                {open === key && (
                  <div className="lv-exec-body">
                    <a href={`/runs/${r.run_id}#node=${nodeId}`}>Open run {r.run_id.slice(0, 8)}</a>
                    {canWrite && r.status === "succeeded" && r.iteration === null && (
                      <button type="button" onClick={() => void pin(r.run_id)}>Pin this output</button>
                    )}
                    <JsonTree label="Input" value={r.input} />
                    <JsonTree label="Output" value={r.output} />
                    {r.error && <JsonTree label="Error" value={r.error} />}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

function TestTab({ workflowId, node, canWrite, onPinned }: { workflowId: string; node: any; canWrite: boolean; onPinned: () => void }) {
  const [input, setInput] = useState("{}");
  const [runs, setRuns] = useState<Execution[]>([]);
  const [fromRun, setFromRun] = useState("");
  const [result, setResult] = useState<any>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  // The input editor appears only once the executions have loaded, pre-filled with the input of
  // the latest one: what the user types is never mixed with a pre-fill that lands late.
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    let live = true;
    setLoaded(false);
    setFromRun("");
    api.get(`/api/v1/workflows/${workflowId}/nodes/${node.id}/executions`).then((r) => {
      if (!live) return;
      const list = (r.results as Execution[]).filter((x) => x.status !== "skipped" && x.iteration === null);
      setRuns(list);
      const last = list[0]?.input;
      setInput(last !== undefined && last !== null ? JSON.stringify(last, null, 2) : "{}");
      setLoaded(true);
    }, () => {
      if (!live) return;
      setRuns([]);
      setInput("{}");
      setLoaded(true);
    });
    return () => {
      live = false;
    };
  }, [workflowId, node.id]);
  if (!loaded) {
    return (
      <div data-testid="inspector-test" aria-busy="true">
        <p className="muted small" data-testid="node-test-loading">Loading this node's earlier inputs…</p>
      </div>
    );
  }
  const run = async () => {
    setError("");
    let body: any;
    if (fromRun) body = { run_id: fromRun, node };
    else {
      try {
        body = { input: JSON.parse(input || "{}"), node };
      } catch (e: any) {
        setError(`Input is not valid JSON: ${e.message}`);
        return;
      }
    }
    setBusy(true);
    try {
      setResult(await api.post(`/api/v1/workflows/${workflowId}/nodes/${node.id}/test`, body));
    } catch (e: any) {
      setError(e.message);
      setResult(null);
    } finally {
      setBusy(false);
    }
  };
  const pin = async () => {
    await api.put(`/api/v1/workflows/${workflowId}/pins/${node.id}`, { output: result.output, handles: result.handles });
    onPinned();
  };
  return (
    <div data-testid="inspector-test">
      <label className="small">Input
        <select value={fromRun} onChange={(e) => setFromRun(e.target.value)} aria-label="Input source" data-testid="node-test-source">
          <option value="">sample input (below)</option>
          {runs.map((r) => <option key={r.run_id} value={r.run_id}>the input of run {r.run_id.slice(0, 8)}</option>)}
        </select>
      </label>
      {!fromRun && <textarea rows={5} value={input} onChange={(e) => setInput(e.target.value)} spellCheck={false} data-testid="node-test-input" />}
      <div className="lv-row">
        <button type="button" className="primary" disabled={busy || !canWrite} onClick={() => void run()} data-testid="node-test-run">
          {busy ? "Running…" : "Run this node"}
        </button>
        {result?.status === "succeeded" && canWrite && <button type="button" onClick={() => void pin()} data-testid="node-test-pin">Pin this output</button>}
      </div>
      {error && <p className="error small" role="alert">{error}</p>}
      {result && (
        <div data-testid="node-test-result" data-status={result.status}>
          <p className="small"><span className={`status status-${result.status}`}>{result.status}</span> in {result.duration_ms} ms</p>
          {result.error && <div className="alert alert-error"><strong>{result.error.category}</strong> {result.error.message}</div>}
          <JsonTree label="Output" value={result.output} testid="node-test-output" />
        </div>
      )}
    </div>
  );
}

/** The node inspector: Logs (recent executions across runs) and Test (this node alone). */
export function Inspector({ workflowId, node, canWrite, onPinned, pinned, run, onCallbackSent }: {
  workflowId: string;
  node: any;
  canWrite: boolean;
  onPinned: () => void;
  pinned: boolean;
  run?: LiveRun | null;
  onCallbackSent?: () => void;
}) {
  // The callback panel for flow.callback nodes and for any node of the latest run waiting for a
  // callback (provider nodes): its URL, QR code, a test callback and what was received.
  const state = run?.nodes.find((n) => n.node_id === node.id && n.status === "waiting" && n.callback_url)
    ?? run?.nodes.find((n) => n.node_id === node.id && n.callback_url);
  const hasCallback = node.type === "flow.callback" || !!state || !!run?.callbacks?.some((r) => r.node_id === node.id);
  const [tab, setTab] = useState<"logs" | "test" | "callback">(state?.status === "waiting" ? "callback" : "logs");
  const [message, setMessage] = useState("");
  const unpin = async () => {
    await api.delete(`/api/v1/workflows/${workflowId}/pins/${node.id}`).catch(() => {});
    onPinned();
  };
  const runFrom = async () => {
    try {
      const res = await api.post<any>(`/api/v1/workflows/${workflowId}/nodes/${node.id}/run-from`, {});
      window.location.assign(`/runs/${res.run_id}`);
    } catch (e: any) {
      setMessage(e.message);
    }
  };
  return (
    <section className="lv-inspector" data-testid="node-inspector">
      <header className="lv-tabs">
        <strong><code>{node.id}</code></strong>
        <button type="button" aria-pressed={tab === "logs"} onClick={() => setTab("logs")} data-testid="inspector-tab-logs">Logs</button>
        <button type="button" aria-pressed={tab === "test"} onClick={() => setTab("test")} data-testid="inspector-tab-test">Test</button>
        {hasCallback && (
          <button type="button" aria-pressed={tab === "callback"} onClick={() => setTab("callback")} data-testid="inspector-tab-callback">
            Callback{state?.status === "waiting" ? " (waiting)" : ""}
          </button>
        )}
        <span className="lv-spacer" />
        {pinned && canWrite && <button type="button" onClick={() => void unpin()} data-testid="inspector-unpin">Unpin</button>}
        {canWrite && <button type="button" onClick={() => void runFrom()} data-testid="inspector-run-from">Run from here</button>}
      </header>
      {message && <p className="error small">{message}</p>}
      <div className="lv-body">
        {tab === "callback" && hasCallback ? (
          <>
            {run && <p className="small muted">Latest run <a href={`/runs/${run.id}#node=${node.id}`}>{run.id.slice(0, 8)}</a>{run.status ? ` (${run.status})` : ""}</p>}
            <CallbackPanel
              nodeId={node.id}
              url={state?.status === "waiting" ? state.callback_url ?? null : null}
              expiresAt={state?.expires_at}
              receipts={run?.callbacks ?? []}
              onSent={onCallbackSent ?? (() => {})}
            />
          </>
        ) : tab === "logs" ? (
          <LogsTab workflowId={workflowId} nodeId={node.id} canWrite={canWrite} onPinned={onPinned} />
        ) : (
          <TestTab workflowId={workflowId} node={node} canWrite={canWrite} onPinned={onPinned} />
        )}
      </div>
    </section>
  );
}
