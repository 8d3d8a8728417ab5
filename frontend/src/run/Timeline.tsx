// The run's Gantt: one row per node instance, drawn as segments on a shared time axis: each
// attempt (red when it failed, then the back-off before the next one, striped) and each wait
// (for a callback, an event or a timer: hatched) between started_at and completed_at (now, while
// it runs). The segments come from the run's log lines (the engine logs every attempt start,
// retry, wait and resume); a node without them is one bar.
import { useEffect, useMemo, useState } from "react";
import { api } from "../lib/api";

export type RunNode = {
  node_id: string;
  type?: string;
  status: string;
  attempts: number;
  iteration: number | null;
  /** [outer, …, inner] loop indices in a (nested) loop body, else null (absent from older servers). */
  iteration_path?: number[] | null;
  input: any;
  output: any;
  error: { category: string; message: string; details?: any } | null;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
  callback_url?: string;
  expires_at?: string | null;
  resume_at?: string | null;
};

export type LogLine = {
  timestamp: string;
  level: string;
  node_id: string | null;
  iteration: number | null;
  iteration_path?: number[] | null;
  message: string;
  data: any;
};

export type Segment = { kind: "attempt" | "backoff" | "wait"; start: number; end: number | null; outcome: string; label: string };

const ACTIVE = ["running", "retrying", "waiting", "pending"];
type Instance = { iteration: number | null; iteration_path?: number[] | null };

/** Which iteration an entry is of: "2.0" in a nested loop's body, "3" in a loop body, "" outside. */
export function iterationOf(x: Instance): string {
  if (Array.isArray(x.iteration_path) && x.iteration_path.length) return x.iteration_path.join(".");
  return x.iteration === null || x.iteration === undefined ? "" : String(x.iteration);
}

/** One node instance (two entries are the same instance when their iteration paths are equal). */
export const instanceKey = (node: string, x: Instance) => `${node}:${iterationOf(x)}`;

/** Segments per node instance, from the engine's log lines of that instance. */
export function segmentsFromLogs(lines: LogLine[]): Record<string, Segment[]> {
  const out: Record<string, Segment[]> = {};
  for (const line of lines) {
    if (!line.node_id) continue;
    const list = (out[instanceKey(line.node_id, line)] ??= []);
    const t = Date.parse(line.timestamp);
    const open = list.length && list[list.length - 1].end === null ? list[list.length - 1] : null;
    const close = (outcome?: string) => {
      if (!open) return;
      open.end = t;
      if (outcome) open.outcome = outcome;
    };
    const m = line.message;
    let match: RegExpMatchArray | null;
    if ((match = m.match(/^started \(attempt (\d+)\)$/))) {
      close();
      list.push({ kind: "attempt", start: t, end: null, outcome: "running", label: `attempt ${match[1]}` });
    } else if (m === "re-running an attempt interrupted by a worker restart") {
      close("interrupted");
    } else if (m === "resumed") {
      close();
      list.push({ kind: "attempt", start: t, end: null, outcome: "running", label: "resumed" });
    } else if ((match = m.match(/^attempt (\d+) of (\d+) failed/))) {
      close("failed");
      const delay = Number(line.data?.delay_ms ?? 0);
      list.push({ kind: "backoff", start: t, end: null, outcome: "retrying", label: `back-off ${delay} ms before attempt ${Number(match[1]) + 1} of ${match[2]}` });
      // the back-off ends when the next attempt starts (closed then), or after its delay
      (list[list.length - 1] as any).planned = t + delay;
    } else if ((match = m.match(/^waiting \(([^)]+)\)(?: until (.+))?$/))) {
      close("succeeded");
      const until = match[2] ? ` until ${new Date(match[2]).toLocaleTimeString()}` : "";
      list.push({ kind: "wait", start: t, end: null, outcome: "waiting", label: `waiting for ${match[1]}${until}` });
    } else if (m.startsWith("succeeded in ")) {
      close("succeeded");
    } else if (m.startsWith("failed after ")) {
      close("failed");
    }
  }
  return out;
}

type Row = { node: RunNode; key: string; start: number; end: number; segments: Segment[] };

export function Timeline({ nodes, startedAt, onPick, runId, tick = 0, active = false }: {
  nodes: RunNode[];
  startedAt: string | null;
  onPick: (id: string) => void;
  runId?: string;
  tick?: number;
  active?: boolean;
}) {
  const [lines, setLines] = useState<LogLine[]>([]);
  useEffect(() => {
    if (!runId) return;
    api.get<LogLine[]>(`/api/v1/runs/${runId}/logs`).then(setLines, () => {});
  }, [runId, tick]);
  const byInstance = useMemo(() => segmentsFromLogs(lines), [lines]);
  // while the run is active, open segments grow with the clock
  const [, setNow] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setNow((n) => n + 1), 1000);
    return () => window.clearInterval(timer);
  }, [active]);
  const timed = nodes.filter((n) => n.started_at);
  if (!timed.length) return <p className="empty" data-testid="run-timeline">No node has started yet.</p>;
  const now = Date.now();
  const rows: Row[] = timed.map((n) => {
    const key = instanceKey(n.node_id, n);
    const s = Date.parse(n.started_at!);
    const running = !n.completed_at || ACTIVE.includes(n.status);
    const e = running ? now : Date.parse(n.completed_at!);
    const found = (byInstance[key] ?? []).map((seg) => ({ ...seg }));
    for (const seg of found) {
      if (seg.end === null) {
        // still open: a live segment runs to now; in a finished node it ends with the node
        const planned = (seg as any).planned as number | undefined;
        seg.end = running ? (seg.kind === "backoff" && planned ? Math.min(planned, now) : now) : e;
        if (!running && seg.outcome === "running") seg.outcome = n.status;
      }
    }
    const segments: Segment[] = found.length
      ? found
      : [{ kind: "attempt", start: s, end: e, outcome: n.status, label: n.attempts > 1 ? `${n.attempts} attempts` : n.status }];
    return { node: n, key, start: Math.min(s, ...segments.map((g) => g.start)), end: Math.max(e, ...segments.map((g) => g.end ?? e)), segments };
  });
  const t0 = Math.min(...rows.map((r) => r.start), startedAt ? Date.parse(startedAt) : Infinity);
  const end = Math.max(...rows.map((r) => r.end), t0 + 1);
  const span = end - t0;
  const pct = (t: number) => ((t - t0) / span) * 100;
  return (
    <div className={`rv-timeline${active ? " is-live" : ""}`} data-testid="run-timeline">
      {rows.map(({ node: n, key, end: last, segments }) => {
        const notes = [n.duration_ms != null ? `${n.duration_ms} ms` : n.status];
        if (n.attempts > 1) notes.push(`${n.attempts} attempts`);
        if (segments.some((g) => g.kind === "wait")) notes.push("waited");

        return (
          <div className="rv-tl-row" key={key} data-node={n.node_id} data-status={n.status}>
            <button type="button" className="rv-tl-label" onClick={() => onPick(n.node_id)}>
              {n.node_id}
              {iterationOf(n) !== "" ? <span className="muted"> [{iterationOf(n)}]</span> : null}
            </button>
            <div className="rv-tl-track" title={`${n.node_id}: ${n.status}, ${notes.join(", ")}`}>
              {segments.map((g, i) => {
                const left = pct(g.start);
                const width = Math.max(0.6, pct(g.end ?? last) - left);
                const ms = Math.max(0, Math.round((g.end ?? last) - g.start));
                return (
                  <span
                    key={i}
                    className={`rv-tl-seg rv-seg-${g.kind} rv-s-${g.kind === "attempt" ? g.outcome : g.kind}`}
                    style={{ left: `${left}%`, width: `${width}%` }}
                    data-segment={g.kind}
                    data-outcome={g.outcome}
                    title={`${g.label}: ${ms} ms${g.kind === "attempt" ? ` (${g.outcome})` : ""}`}
                  />
                );
              })}
            </div>
            <span className="rv-tl-note">{notes.join(" · ")}</span>
          </div>
        );
      })}
      <div className="rv-tl-axis muted small">
        <span>0 ms</span>
        <span>{Math.round(span)} ms</span>
      </div>
      <div className="rv-tl-legend small muted" aria-label="Legend">
        <span><i className="rv-tl-key rv-seg-attempt rv-s-succeeded" /> attempt</span>
        <span><i className="rv-tl-key rv-seg-attempt rv-s-failed" /> failed attempt</span>
        <span><i className="rv-tl-key rv-seg-backoff" /> back-off before a retry</span>
        <span><i className="rv-tl-key rv-seg-wait" /> waiting (callback, event, timer)</span>
      </div>
    </div>
  );
}
