// The run's Gantt: one bar per node instance from started_at to completed_at (now, while it
// runs), coloured by status; attempts and waits are noted on the bar.
export type RunNode = {
  node_id: string;
  type?: string;
  status: string;
  attempts: number;
  iteration: number | null;
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

export function Timeline({ nodes, startedAt, onPick }: { nodes: RunNode[]; startedAt: string | null; onPick: (id: string) => void }) {
  const timed = nodes.filter((n) => n.started_at);
  if (!timed.length) return <p className="empty" data-testid="run-timeline">No node has started yet.</p>;
  const now = Date.now();
  const t0 = Math.min(...timed.map((n) => Date.parse(n.started_at!)), startedAt ? Date.parse(startedAt) : Infinity);
  const end = Math.max(...timed.map((n) => (n.completed_at ? Date.parse(n.completed_at) : now)), t0 + 1);
  const span = end - t0;
  return (
    <div className="rv-timeline" data-testid="run-timeline">
      {timed.map((n) => {
        const s = Date.parse(n.started_at!);
        const e = n.completed_at ? Date.parse(n.completed_at) : now;
        const left = ((s - t0) / span) * 100;
        const width = Math.max(0.6, ((e - s) / span) * 100);
        const key = `${n.node_id}:${n.iteration ?? ""}`;
        const notes = [n.duration_ms != null ? `${n.duration_ms} ms` : n.status];
        if (n.attempts > 1) notes.push(`${n.attempts} attempts`);
        return (
          <div className="rv-tl-row" key={key} data-node={n.node_id}>
            <button type="button" className="rv-tl-label" onClick={() => onPick(n.node_id)}>
              {n.node_id}
              {n.iteration !== null ? <span className="muted"> [{n.iteration}]</span> : null}
            </button>
            <div className="rv-tl-track">
              <span
                className={`rv-tl-bar rv-s-${n.status}`}
                style={{ left: `${left}%`, width: `${width}%` }}
                title={`${n.node_id}: ${n.status}, ${notes.join(", ")}`}
              />
              <span className="rv-tl-note" style={{ left: `calc(${Math.min(left + width, 85)}% + 4px)` }}>
                {notes.join(" · ")}
              </span>
            </div>
          </div>
        );
      })}
      <div className="rv-tl-axis muted small">
        <span>0 ms</span>
        <span>{span} ms</span>
      </div>
    </div>
  );
}
