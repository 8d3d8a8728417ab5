// Loading and saving: the draft (working copy, autosaved, may be invalid) and versions
// (Save, strict). A stale tab gets 409 CONFLICT and stops autosaving until the user chooses.
import { ApiError, workflows, type ValidationIssue } from "../lib/api";
import { SCHEMA, type WorkflowDocument } from "../canvas";
import { useBuilder } from "./store";

export const AUTOSAVE_MS = 800;

let timer: number | undefined;
let inFlight: Promise<void> | null = null;
let savedCounter = 0;

export function blankDocument(name = "Untitled workflow"): WorkflowDocument {
  return { schema: SCHEMA, name, description: "", variables: {}, settings: { timeout_s: 300, max_runs_per_day: null }, nodes: [], edges: [] };
}

export function editUrl(id: string) {
  return `/workflows/${id}/edit`;
}

/** Open workflow `id` on its draft when one exists, else on its latest version. */
export async function openWorkflow(id: string) {
  // The saved document is asked for at the same time (one round trip on open); it is used
  // when there is no draft.
  const saved = workflows.exportDoc(id);
  saved.catch(() => undefined);
  const [wf, draft] = await Promise.all([workflows.get(id), workflows.getDraft(id)]);
  const doc = draft.document ?? (await saved);
  const st = useBuilder.getState();
  st.load(doc, { workflowId: id, version: draft.base_version ?? wf.version, status: wf.status, issues: draft.errors ?? [] });
  savedCounter = useBuilder.getState().changeCounter;
  st.setSaveState(draft.updated_at ? "draft" : "saved");
  return wf;
}

async function ensureWorkflow(): Promise<string> {
  const st = useBuilder.getState();
  if (st.workflowId) return st.workflowId;
  const created = await workflows.create({ ...blankDocument(st.meta.name || "Untitled workflow") });
  useBuilder.getState().setSaved({ workflowId: created.id, version: created.version, status: created.status });
  history.replaceState(null, "", editUrl(created.id));
  document.dispatchEvent(new CustomEvent("switchyard:workflow-created", { detail: created }));
  return created.id;
}

/** PUT the draft now (waits for one in flight). */
export async function flushDraft(): Promise<boolean> {
  if (timer) window.clearTimeout(timer);
  timer = undefined;
  if (inFlight) await inFlight;
  const st = useBuilder.getState();
  if (st.saveState === "conflict") return false;
  if (st.changeCounter === savedCounter) return true; // nothing new (a pristine new page creates nothing)
  const counter = st.changeCounter;
  let ok = true;
  inFlight = (async () => {
    try {
      const id = await ensureWorkflow();
      const cur = useBuilder.getState();
      cur.setSaveState("saving");
      const draft = await workflows.putDraft(id, cur.document(), cur.version);
      savedCounter = counter;
      const now = useBuilder.getState();
      now.setIssues(draft.errors ?? []);
      now.setSaveState(now.changeCounter === counter ? "draft" : "dirty");
    } catch (err) {
      ok = false;
      reportError(err);
    } finally {
      inFlight = null;
    }
  })();
  await inFlight;
  return ok;
}

function reportError(err: unknown) {
  const st = useBuilder.getState();
  if (err instanceof ApiError && err.code === "CONFLICT") {
    const latest = err.details?.latest_version;
    st.setSaveState(
      "conflict",
      `This workflow was saved in another tab or by someone else${latest ? ` (now v${latest})` : ""}. Your changes here are not saved. Reload to get the latest version, or keep your version and overwrite it.`,
    );
  } else if (err instanceof ApiError) {
    st.setSaveState("error", err.message);
  } else {
    st.setSaveState("error", "Could not reach the server; your changes will be saved when it answers.");
  }
}

export function scheduleAutosave() {
  if (timer) window.clearTimeout(timer);
  timer = window.setTimeout(() => void flushDraft(), AUTOSAVE_MS);
}

/** Start autosaving on every document change. */
export function startAutosave() {
  savedCounter = useBuilder.getState().changeCounter;
  useBuilder.subscribe((s, prev) => {
    if (s.changeCounter !== prev.changeCounter && s.saveState !== "conflict") scheduleAutosave();
  });
  window.addEventListener("beforeunload", (e) => {
    const s = useBuilder.getState();
    if (s.changeCounter !== savedCounter || s.saveState === "conflict") {
      void flushDraft();
      e.preventDefault();
    }
  });
}

/** Save: a new version through PUT /workflows/{id}, only when the document is valid. */
export async function saveVersion(): Promise<{ ok: boolean; issues: ValidationIssue[] }> {
  const flushed = await flushDraft();
  const st = useBuilder.getState();
  if (!flushed || !st.workflowId) return { ok: false, issues: st.issues };
  if (st.issues.length) {
    st.setSaveState("error", `Not saved: ${st.issues.length} problem${st.issues.length === 1 ? "" : "s"} to fix first.`);
    return { ok: false, issues: st.issues };
  }
  try {
    st.setSaveState("saving");
    const wf = await workflows.replace(st.workflowId, st.document());
    const now = useBuilder.getState();
    now.setSaved({ version: wf.version, status: wf.status });
    now.setIssues([]);
    savedCounter = now.changeCounter;
    now.setSaveState("saved", `Saved as v${wf.version}.`);
    return { ok: true, issues: [] };
  } catch (err) {
    if (err instanceof ApiError && err.issues.length) {
      st.setIssues(err.issues);
      st.setSaveState("error", `Not saved: ${err.issues.length} problem${err.issues.length === 1 ? "" : "s"} to fix first.`);
      return { ok: false, issues: err.issues };
    }
    reportError(err);
    return { ok: false, issues: [] };
  }
}

/** After a conflict: keep this tab's version (rebased on the latest) and save it as the draft. */
export async function overwriteAfterConflict() {
  const st = useBuilder.getState();
  if (!st.workflowId) return;
  const wf = await workflows.get(st.workflowId);
  st.setSaved({ version: wf.version, status: wf.status });
  st.setSaveState("dirty");
  savedCounter = -1;
  await flushDraft();
}
