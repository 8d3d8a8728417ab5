// The run page (/runs/<id>): the workflow at the run's version with each node's live state,
// the timeline, logs, and per node its input/output/error; retry, cancel, pin, run from here.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { WorkflowPreview } from "../canvas";
import { api, ApiError } from "../lib/api";
import { connectRun, type LiveEvent } from "../lib/ws";
import { CallbackPanel, type Receipt } from "./CallbackPanel";
import { JsonTree } from "./JsonTree";
import { Logs } from "./Logs";
import { canvasState, groupByNode, withLayout, type Doc } from "./model";
import { instanceKey, iterationOf, Timeline, type RunNode } from "./Timeline";

export type Boot = { run_id: string; workflow: { id: string; name: string }; document: Doc; can_write: boolean };

type Detail = {
  id: string;
  status: string;
  mode: string;
  trigger_type: string;
  version: number;
  started_at: string | null;
  completed_at: string | null;
  created_at: string;
  duration_ms: number | null;
  error: any;
  input: any;
  output: any;
  retry_of: string | null;
  parent_run: string | null;
  start_node: string | null;
  children: { id: string; node_id: string | null }[];
  retries: string[];
  nodes: RunNode[];
  callbacks?: Receipt[];
};

const TERMINAL = ["completed", "partial", "failed", "cancelled"];
const short = (id: string) => id.slice(0, 8);

function nodeFromHash(): string | null {
  const m = location.hash.match(/node=([a-z][a-z0-9_]*)/);
  return m ? m[1] : null;
}

export function RunPage({ boot }: { boot: Boot }) {
  const [detail, setDetail] = useState<Detail | null>(null);
  const [selected, setSelected] = useState<string | null>(nodeFromHash());
  const [iteration, setIteration] = useState<string | null>(null); // iterationOf() of the instance shown
  const [tick, setTick] = useState(0);
  const [message, setMessage] = useState("");
  const [pins, setPins] = useState<Set<string>>(new Set());
  const [live, setLive] = useState("connecting");
  const refetchTimer = useRef<number | undefined>();

  const load = useCallback(async () => {
    try {
      setDetail(await api.get<Detail>(`/api/v1/runs/${boot.run_id}`));
      setTick((t) => t + 1);
    } catch (e: any) {
      setMessage(e.message);
    }
  }, [boot.run_id]);
  const refetchSoon = useCallback(() => {
    window.clearTimeout(refetchTimer.current);
    refetchTimer.current = window.setTimeout(load, 150);
  }, [load]);

  useEffect(() => {
    load(); // the page works from the REST API alone; the stream keeps it live
    api.get(`/api/v1/workflows/${boot.workflow.id}/pins`).then((p) => setPins(new Set(Object.keys(p.pins))), () => {});
    const conn = connectRun(boot.run_id, {
      onState: setLive,
      onEvent: (event: LiveEvent) => {
        if (event.type === "snapshot") {
          setDetail(event.run as Detail);
          setTick((t) => t + 1);
        } else if (event.type === "node.status") {
          const e = event as any;
          setDetail((d) => {
            if (!d) return d;
            const nodes = d.nodes.slice();
            const key = instanceKey(e.node_id, { iteration: e.iteration ?? null, iteration_path: e.iteration_path });
            const i = nodes.findIndex((n) => instanceKey(n.node_id, n) === key);
            const patch = { status: e.status, attempts: e.attempt ?? 0, error: e.error ?? null, duration_ms: e.duration_ms };
            if (i >= 0) nodes[i] = { ...nodes[i], ...patch, started_at: nodes[i].started_at ?? new Date().toISOString() };
            else {
              const j = nodes.findIndex((n) => n.node_id === e.node_id && !n.started_at);
              const fresh = { ...(j >= 0 ? nodes[j] : {}), node_id: e.node_id, iteration: e.iteration ?? null, iteration_path: e.iteration_path ?? null, ...patch, started_at: new Date().toISOString() } as RunNode;
              if (j >= 0 && e.iteration == null) nodes[j] = fresh;
              else nodes.push(fresh);
            }
            return { ...d, nodes };
          });
          if (!["running", "pending"].includes(e.status)) refetchSoon();
        } else if (event.type === "run.status") {
          setDetail((d) => (d ? { ...d, status: (event as any).status } : d));
          refetchSoon();
        }
      },
    });
    const onHash = () => setSelected(nodeFromHash());
    window.addEventListener("hashchange", onHash);
    return () => {
      conn.close();
      window.removeEventListener("hashchange", onHash);
    };
  }, [boot.run_id, boot.workflow.id, refetchSoon, load]);

  const nodes = detail?.nodes ?? [];
  const drawn = useMemo(() => withLayout(boot.document), [boot.document]);
  const view = useMemo(() => canvasState(boot.document, nodes, pins), [boot.document, nodes, pins]);
  const groups = useMemo(() => groupByNode(nodes), [nodes]);
  const failing = detail?.error?.node ?? nodes.find((n) => n.status === "failed")?.node_id ?? null;
  const focus = selected ?? (detail && TERMINAL.includes(detail.status) ? failing : null);
  const instances = focus ? groups[focus] ?? [] : [];
  const shown = instances.find((n) => iteration !== null && iterationOf(n) === iteration) ?? instances.find((n) => n.status === "failed") ?? instances[instances.length - 1];
  const finished = detail ? TERMINAL.includes(detail.status) : false;

  const pick = (id: string) => {
    setIteration(null);
    history.replaceState(null, "", `#node=${id}`);
    setSelected(id);
  };
  const act = async (path: string, body: unknown, open: boolean) => {
    setMessage("");
    try {
      const res = await api.post<any>(path, body);
      if (open) location.assign(`/runs/${res.run_id ?? res.id}`);
      else load();
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : String(e));
    }
  };
  const pin = async (nodeId: string) => {
    try {
      await api.put(`/api/v1/workflows/${boot.workflow.id}/pins/${nodeId}`, { run_id: boot.run_id });
      setPins(new Set([...pins, nodeId]));
      setMessage(`Pinned the output of ${nodeId}.`);
    } catch (e: any) {
      setMessage(e.message);
    }
  };
  const unpin = async (nodeId: string) => {
    await api.delete(`/api/v1/workflows/${boot.workflow.id}/pins/${nodeId}`).catch(() => {});
    const next = new Set(pins);
    next.delete(nodeId);
    setPins(next);
  };

  if (!detail) return <p className="card">{message || "Loading the run…"}</p>;
  return (
    <div className="rv-page" data-run-status={detail.status}>
      <section className="rv-head">
        <div>
          <h1>
            Run <code title={detail.id}>{short(detail.id)}</code>{" "}
            <span className={`status status-${detail.status}`} data-testid="run-status">{detail.status}</span>
            <span className={`rv-live rv-live-${live}`} title="live updates">{live === "open" ? "live" : live}</span>
          </h1>
          <p className="muted small">
            <a href={`/workflows/${boot.workflow.id}/`}>{boot.workflow.name}</a> · v{detail.version} ·{" "}
            <span data-testid="run-mode">{detail.mode}</span> · {detail.trigger_type}
            {detail.duration_ms != null && ` · ${detail.duration_ms} ms`}
            {detail.start_node && <> · run from <code>{detail.start_node}</code></>}
          </p>
          <p className="small rv-links">
            {detail.retry_of && <>{detail.start_node ? "Source run" : "Retry of"} <a href={`/runs/${detail.retry_of}`}>{short(detail.retry_of)}</a> </>}
            {detail.parent_run && <>Parent run <a href={`/runs/${detail.parent_run}`}>{short(detail.parent_run)}</a> </>}
            {detail.retries.map((r) => <span key={r}>Retried as <a href={`/runs/${r}`}>{short(r)}</a> </span>)}
            {detail.children.map((c) => <span key={c.id}>Sub-run <a href={`/runs/${c.id}`}>{short(c.id)}</a>{c.node_id ? ` (${c.node_id})` : ""} </span>)}
          </p>
        </div>
        {boot.can_write && (
          <div className="rv-actions">
            <button type="button" disabled={!finished} onClick={() => act(`/api/v1/runs/${detail.id}/retry`, { from: "start" }, true)} data-testid="retry-start">
              Retry from start
            </button>
            <button type="button" className="primary" disabled={!["failed", "partial", "cancelled"].includes(detail.status)} onClick={() => act(`/api/v1/runs/${detail.id}/retry`, { from: "failed" }, true)} data-testid="retry-failed">
              Retry from failed node
            </button>
            <button type="button" className="danger-outline" disabled={finished} onClick={() => act(`/api/v1/runs/${detail.id}/cancel`, {}, false)} data-testid="cancel-run">
              Cancel
            </button>
          </div>
        )}
      </section>
      {message && <div className="alert alert-info" role="status" data-testid="run-message">{message}</div>}
      {detail.error && (
        <div className="alert alert-error" data-testid="run-error">
          {detail.error.node ? (
            <>Node <a href={`#node=${detail.error.node}`} onClick={() => pick(detail.error.node)}><code>{detail.error.node}</code></a> failed: </>
          ) : "The run failed: "}
          <strong>{detail.error.category}</strong> {detail.error.message}
        </div>
      )}
      <section className="card rv-canvas" data-testid="run-canvas">
        <WorkflowPreview document={drawn} statuses={view.statuses} notes={view.notes} activeEdges={view.activeEdges} onNodeClick={pick} />
      </section>
      <div className="rv-grid">
        <section className="card rv-node" data-testid="node-panel">
          {!focus || !shown ? (
            <p className="empty">Click a node to see its input, output and error.</p>
          ) : (
            <>
              <header className="rv-section-head">
                <h2><code>{focus}</code> <span className={`status status-${shown.status}`} data-testid="node-status">{shown.status}</span></h2>
                {instances.length > 1 && (
                  <select aria-label="Iteration" value={iterationOf(shown)} onChange={(e) => setIteration(e.target.value)}>
                    {instances.map((n) => <option key={iterationOf(n)} value={iterationOf(n)}>iteration {iterationOf(n)}</option>)}
                  </select>
                )}
              </header>
              <p className="muted small">
                {shown.type} · {shown.attempts} attempt{shown.attempts === 1 ? "" : "s"}
                {shown.duration_ms != null && ` · ${shown.duration_ms} ms`}
              </p>
              {shown.error && (
                <div className="alert alert-error" data-testid="node-error">
                  <strong>{shown.error.category}</strong> {shown.error.message}
                </div>
              )}
              {boot.can_write && shown.iteration === null && (
                <div className="row">
                  {shown.status === "succeeded" && !pins.has(focus) && <button type="button" onClick={() => pin(focus)} data-testid="pin-output">Pin this output</button>}
                  {pins.has(focus) && <button type="button" onClick={() => unpin(focus)} data-testid="unpin-output">Unpin</button>}
                  <button type="button" onClick={() => act(`/api/v1/workflows/${boot.workflow.id}/nodes/${focus}/run-from`, { run_id: detail.id }, true)} data-testid="run-from-node">
                    Run from here
                  </button>
                </div>
              )}
              {(shown.type === "flow.callback" || shown.callback_url) && (
                <CallbackPanel nodeId={focus} url={shown.status === "waiting" ? shown.callback_url ?? null : null} expiresAt={shown.expires_at} receipts={detail.callbacks ?? []} onSent={refetchSoon} />
              )}
              <JsonTree label="Input" value={shown.input} testid="node-input" key={`${focus}-${iterationOf(shown)}-in`} />
              <JsonTree label="Output" value={shown.output} testid="node-output" key={`${focus}-${iterationOf(shown)}-out`} />
              {shown.error && <JsonTree label="Error" value={shown.error} testid="node-error-json" key={`${focus}-${iterationOf(shown)}-err`} />}
            </>
          )}
        </section>
        <section className="card">
          <h2>Timeline</h2>
          <Timeline nodes={nodes} startedAt={detail.started_at} onPick={pick} runId={detail.id} tick={tick} active={!finished} />
        </section>
      </div>
      <Logs runId={detail.id} nodeIds={boot.document.nodes.map((n) => n.id)} tick={tick} focus={null} />
    </div>
  );
}
