// The top bar: name, status dot, Design | Test | Live, edit actions, lifecycle, Save, Run now.
import { useState } from "react";
import { useReactFlow } from "@xyflow/react";
import { ApiError, workflows } from "../lib/api";
import type { Boot } from "./App";
import type { DialogName } from "./dialogs";
import { flushDraft, saveVersion } from "./persist";
import { useBuilder } from "./store";

const SAVE_LABEL: Record<string, string> = {
  saved: "All changes saved",
  dirty: "Unsaved changes…",
  saving: "Saving draft…",
  draft: "Draft saved (not a version yet)",
  error: "Not saved",
  conflict: "Conflict",
};

export function Toolbar({ boot, openDialog, layout, readOnly }: { boot: Boot; openDialog: (d: DialogName) => void; layout: () => void; readOnly: boolean }) {
  const s = useBuilder();
  const flow = useReactFlow();
  const [mode, setMode] = useState<"design" | "test" | "live">(s.status === "active" ? "live" : "design");
  const [busy, setBusy] = useState(false);
  const lastFailed = s.lastRunFailed && s.status === "active";
  const tone = s.status === "error" || lastFailed ? "error" : s.status === "active" ? "active" : "inactive";

  async function switchMode(next: "design" | "test" | "live") {
    if (next === mode || !s.workflowId) return;
    setBusy(true);
    try {
      if (mode === "live" && next !== "live") {
        if (!window.confirm("Leave Live? The workflow will be deactivated: its webhooks and schedules stop until you go Live again.")) return;
        const wf = await workflows.deactivate(s.workflowId);
        s.setSaved({ status: wf.status });
      }
      if (next === "test" || next === "live") {
        const saved = await saveVersion();
        if (!saved.ok) return;
        const v = await workflows.validate(s.workflowId);
        if (!v.valid) {
          s.setIssues(v.errors);
          s.setSaveState("error", "Not ready: fix the problems listed below first.");
          return;
        }
      }
      if (next === "live") {
        if (!window.confirm("Go Live? The workflow will be activated: its triggers start running it for real.")) return;
        const wf = await workflows.activate(s.workflowId);
        s.setSaved({ status: wf.status });
        s.setSaveState("saved", `Live: v${wf.version} is active.`);
      }
      setMode(next);
      if (next === "test") openDialog("run");
    } catch (err) {
      if (err instanceof ApiError && err.issues.length) s.setIssues(err.issues);
      s.setSaveState("error", (err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <header className="by-toolbar">
      <div className="by-title">
        <span className={`dot dot-${tone}`} data-testid="status-dot" data-status={tone} title={tone === "active" ? "Active" : tone === "error" ? "Error / last run failed" : "Inactive"} />
        <div className="by-title-text">
          <input
            className="by-name"
            aria-label="Workflow name"
            data-testid="workflow-name"
            value={s.meta.name ?? ""}
            readOnly={readOnly}
            onChange={(e) => s.setMeta({ name: e.target.value })}
          />
          <span className="by-save-state" data-testid="save-state" data-state={s.saveState}>
            {boot.workflow_id === null && !s.workflowId && <span className="by-new-hint">New workflow · </span>}
            {s.workflowId ? `v${s.version} · ` : ""}{SAVE_LABEL[s.saveState]}
          </span>
        </div>
      </div>
      <div className="by-modes" role="group" aria-label="Mode">
        {(["design", "test", "live"] as const).map((m) => (
          <button key={m} type="button" className={mode === m ? "is-on" : ""} aria-pressed={mode === m} disabled={busy || readOnly || !s.workflowId} data-testid={`mode-${m}`} onClick={() => void switchMode(m)}>
            {m[0].toUpperCase() + m.slice(1)}
          </button>
        ))}
      </div>
      <div className="by-actions">
        <button type="button" title="Undo (Ctrl+Z)" aria-label="Undo" data-testid="undo" disabled={!s.past.length || readOnly} onClick={s.undo}>↶</button>
        <button type="button" title="Redo (Ctrl+Shift+Z)" aria-label="Redo" data-testid="redo" disabled={!s.future.length || readOnly} onClick={s.redo}>↷</button>
        <button type="button" title="Auto-layout (L)" data-testid="auto-layout" disabled={readOnly} onClick={layout}>Layout</button>
        <button type="button" title="Fit to screen (F)" data-testid="fit" onClick={() => flow.fitView({ padding: 0.2, duration: 200, maxZoom: 1.2 })}>Fit</button>
        <span className="by-sep" />
        <button type="button" data-testid="open-variables" onClick={() => openDialog("variables")}>Variables</button>
        <button type="button" data-testid="open-settings" onClick={() => openDialog("settings")}>Settings</button>
        <button type="button" data-testid="open-versions" disabled={!s.workflowId} onClick={() => openDialog("versions")}>Versions</button>
        <button type="button" data-testid="open-import" disabled={readOnly} onClick={() => openDialog("import")}>Import</button>
        <button type="button" data-testid="open-export" onClick={() => openDialog("export")}>Export</button>
        <button type="button" data-testid="open-more" onClick={() => openDialog("more")}>More…</button>
        <button type="button" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" data-testid="open-shortcuts" onClick={() => openDialog("shortcuts")}>?</button>
        <span className="by-sep" />
        <button type="button" data-testid="run-now" disabled={readOnly || busy} onClick={async () => {
          if (await flushDraft()) openDialog("run");
        }}>Run now</button>
        <button type="button" className="primary" data-testid="save" disabled={readOnly || busy || s.saveState === "conflict"} onClick={() => void saveVersion()}>
          Save
        </button>
      </div>
    </header>
  );
}
