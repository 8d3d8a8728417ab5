// The run's log lines, filtered by level and node; refreshed while the run is active.
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import { iterationOf, type LogLine as Line } from "./Timeline";


export function Logs({ runId, nodeIds, tick, focus }: { runId: string; nodeIds: string[]; tick: number; focus: string | null }) {
  const [level, setLevel] = useState("");
  const [node, setNode] = useState("");
  const [lines, setLines] = useState<Line[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    if (focus) setNode(focus);
  }, [focus]);
  useEffect(() => {
    const q = new URLSearchParams();
    if (level) q.set("level", level);
    if (node) q.set("node", node);
    api
      .get<Line[]>(`/api/v1/runs/${runId}/logs?${q}`)
      .then((l) => {
        setLines(l);
        setError("");
      })
      .catch((e) => setError(e.message));
  }, [runId, level, node, tick]);
  return (
    <section className="card rv-logs" data-testid="run-logs">
      <header className="rv-section-head">
        <h2>Logs</h2>
        <select value={level} onChange={(e) => setLevel(e.target.value)} aria-label="Level" data-testid="log-level">
          <option value="">all levels</option>
          <option value="info">info and above</option>
          <option value="warning">warnings and errors</option>
          <option value="error">errors</option>
        </select>
        <select value={node} onChange={(e) => setNode(e.target.value)} aria-label="Node" data-testid="log-node">
          <option value="">all nodes</option>
          {nodeIds.map((id) => (
            <option key={id} value={id}>{id}</option>
          ))}
        </select>
      </header>
      {error && <p className="error small">{error}</p>}
      {!lines.length ? (
        <p className="empty">No log lines{level || node ? " match these filters" : " yet"}.</p>
      ) : (
        <ol className="rv-log-lines">
          {lines.map((l, i) => (
            <li key={i} className={`rv-log rv-log-${l.level}`} data-level={l.level} data-node={l.node_id ?? ""}>
              <time dateTime={l.timestamp}>{l.timestamp.slice(11, 23)}</time>
              <span className="rv-log-level">{l.level}</span>
              {l.node_id && <code>{l.node_id}{iterationOf(l) !== "" ? `[${iterationOf(l)}]` : ""}</code>}
              <span className="rv-log-msg">{l.message}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
