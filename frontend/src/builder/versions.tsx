// The version list: who saved each version, when, and what changed; open one read-only
// on the canvas or restore it (a restore saves it again as the newest version).
import { useEffect, useState } from "react";
import { ApiError, workflows } from "../lib/api";
import { Modal } from "./dialogs";
import { useBuilder } from "./store";

type VersionRow = { number: number; created_by: string | null; created_at: string; changes: string[] };

export function VersionsDialog({ onClose }: { onClose: () => void }) {
  const s = useBuilder();
  const [rows, setRows] = useState<VersionRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (s.workflowId) workflows.versions(s.workflowId).then((r: any) => setRows(r.results), (e) => setError(e.message));
  }, [s.workflowId]);
  async function open(n: number) {
    const v = await workflows.version(s.workflowId!, n);
    useBuilder.getState().load(v.document, { keepHistory: true });
    useBuilder.setState((st) => ({ changeCounter: st.changeCounter + 1, saveState: "dirty", message: `Opened v${n} as the working copy; Save to make it the newest version.` }));
    onClose();
  }
  async function restore(n: number) {
    try {
      const v = await workflows.version(s.workflowId!, n);
      const wf = await workflows.replace(s.workflowId!, v.document);
      useBuilder.getState().load(v.document, { version: wf.version, status: wf.status, keepHistory: true });
      useBuilder.getState().setSaveState("saved", `Restored v${n} as v${wf.version}.`);
      onClose();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : (err as Error).message);
    }
  }
  return (
    <Modal title="Versions" onClose={onClose} testid="versions-dialog" wide>
      {error && <div className="by-field-error" role="alert">{error}</div>}
      {!rows && !error && <p>Loading…</p>}
      {rows && rows.length === 0 && <p className="by-empty">No saved version yet.</p>}
      {rows && rows.length > 0 && (
        <table className="grid">
          <thead><tr><th>Version</th><th>Saved</th><th>By</th><th>What changed</th><th /></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.number} data-version={r.number}>
                <td>v{r.number}{r.number === s.version ? " (latest)" : ""}</td>
                <td>{new Date(r.created_at).toLocaleString()}</td>
                <td>{r.created_by ?? "—"}</td>
                <td className="small">{r.changes.join("; ") || "—"}</td>
                <td className="by-nowrap">
                  <button type="button" onClick={() => void open(r.number)}>Open</button>{" "}
                  {r.number !== s.version && <button type="button" data-testid={`restore-${r.number}`} onClick={() => void restore(r.number)}>Restore</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Modal>
  );
}
