// The builder page: toolbar, palette, canvas, config drawer, problems panel and dialogs.
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ReactFlowProvider, useReactFlow, useStore } from "@xyflow/react";
import { autoLayout, WorkflowCanvas, type FlowEdge, type FlowNode } from "../canvas";
import { api, listAll, nodeTypes as fetchNodeTypes, workflows, type NodeTypeInfo } from "../lib/api";
import type { DialogName } from "./dialogs";
import { DRAG_MIME, Palette } from "./Palette";
import { blankDocument, editUrl, flushDraft, openWorkflow, overwriteAfterConflict, saveVersion, startAutosave } from "./persist";
import { scopeNames, type LastRun } from "./scope";
import { useBuilder } from "./store";
import { Toolbar } from "./Toolbar";
import { useShortcuts } from "./shortcuts";
import type { FormCtx } from "./fields";
import { Inspector, useLiveCanvas } from "../live";

const Drawer = lazy(() => import("./Drawer"));
const Dialogs = lazy(() => import("./dialogs").then((m) => ({ default: m.Dialogs })));

function ConflictActions() {
  return (
    <span className="by-banner-actions">
      <button type="button" data-testid="conflict-reload" onClick={() => window.location.reload()}>Reload latest</button>
      <button type="button" data-testid="conflict-overwrite" onClick={() => void overwriteAfterConflict()}>Keep mine</button>
    </span>
  );
}

export type Boot = { workflow_id: string | null; can_write: boolean; templates: { key: string; name: string; description: string; document: any }[] };

function TemplateChooser({ boot, onImport }: { boot: Boot; onImport: () => void }) {
  const [error, setError] = useState<string | null>(null);
  async function use(doc: any) {
    try {
      const wf = await workflows.create(doc);
      window.location.assign(editUrl(wf.id));
    } catch (err) {
      setError((err as Error).message);
    }
  }
  return (
    <div className="by-templates" data-testid="templates">
      <p>…or start from a template:</p>
      <div className="by-template-list">
        {boot.templates.map((t) => (
          <button type="button" key={t.key} data-testid={`template-${t.key}`} title={t.description} onClick={() => void use(t.document)}>
            <strong>{t.name}</strong>
            <span>{t.description}</span>
          </button>
        ))}
        <button type="button" data-testid="template-import" onClick={onImport}><strong>Import JSON…</strong><span>Paste or upload a switchyard.workflow/1 document.</span></button>
      </div>
      {error && <div className="by-field-error">{error}</div>}
    </div>
  );
}

function Problems() {
  const issues = useBuilder((s) => s.issues);
  const select = useBuilder((s) => s.select);
  const [open, setOpen] = useState(true);
  if (!issues.length) return <div data-testid="validation-errors" data-count="0" hidden />;
  return (
    <section className="by-problems" data-testid="validation-errors" data-count={issues.length} role="alert">
      <button type="button" className="by-problems-head" onClick={() => setOpen(!open)} aria-expanded={open}>
        {issues.length} problem{issues.length === 1 ? "" : "s"} · the draft is kept, Save needs them fixed
      </button>
      {open && (
        <ul>
          {issues.map((i, n) => (
            <li key={n}>
              {i.node ? <button type="button" className="by-link" onClick={() => select(i.node)}>{i.node}</button> : i.edge != null ? <span>edge {i.edge}</span> : <span>workflow</span>}
              {i.field && <code>{i.field}</code>} {i.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Editor({ boot, types }: { boot: Boot; types: NodeTypeInfo[] }) {
  const s = useBuilder();
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const wrapper = useRef<HTMLDivElement>(null);
  const [dialog, setDialog] = useState<DialogName | null>(null);
  const [credentials, setCredentials] = useState<FormCtx["credentials"]>([]);
  const [connectors, setConnectors] = useState<FormCtx["connectors"]>([]);
  const [connections, setConnections] = useState<FormCtx["connections"]>([]);
  const [lastRun, setLastRun] = useState<LastRun>(null);
  const readOnly = !boot.can_write;

  useEffect(() => {
    listAll("credentials/").then(setCredentials, () => undefined);
    listAll("connectors/").then(setConnectors, () => undefined);
    listAll("providers/connections/").then(setConnections, () => undefined);
  }, []);
  useEffect(() => {
    if (!s.workflowId) return;
    workflows.runs(s.workflowId).then((r: any) => {
      const last = r?.results?.[0];
      if (last) api.get(`runs/${last.id}`).then(setLastRun, () => undefined);
      const lastLive = r?.results?.find((x: any) => x.mode === "live");
      useBuilder.setState({ lastRunFailed: lastLive?.status === "failed" });
    }, () => undefined);
  }, [s.workflowId]);

  const selected = s.selectedId ? s.nodes.find((n) => n.id === s.selectedId) : undefined;
  const getNames = useCallback(() => {
    const st = useBuilder.getState();
    return scopeNames({
      nodeId: st.selectedId ?? "",
      nodes: st.nodes,
      edges: st.edges,
      types: st.types,
      variables: st.meta.variables ?? {},
      credentials: credentials.map((c) => c.name),
      lastRun,
    });
  }, [credentials, lastRun]);
  const previewScope = useCallback(() => {
    const st = useBuilder.getState();
    const runNodes = (lastRun?.nodes ?? []) as any[];
    const mine = runNodes.find((n) => n.node_id === st.selectedId);
    return {
      trigger: lastRun?.input ?? {},
      input: mine?.input ?? {},
      nodes: Object.fromEntries(runNodes.filter((n) => n.status === "succeeded" && n.iteration == null).map((n) => [n.node_id, n.output])),
      variables: st.meta.variables ?? {},
      workspace: Object.fromEntries(credentials.map((c) => [c.name, "***"])),
      execution: { id: (lastRun as any)?.id ?? null, workflow_id: st.workflowId, mode: (lastRun as any)?.mode ?? "test", started_at: (lastRun as any)?.started_at ?? null },
    };
  }, [lastRun, credentials]);
  const ctx = useMemo<FormCtx>(
    () => ({ getNames, previewScope, hasRun: !!lastRun, credentials, connectors, connections }),
    [getNames, previewScope, lastRun, credentials, connectors, connections],
  );

  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }) => {
      if (readOnly) return;
      const id = useBuilder.getState().addNode(type, position, position ? null : useBuilder.getState().selectedId, !position);
      if (!position) {
        const n = useBuilder.getState().nodes.find((x) => x.id === id);
        if (n) flow.setCenter(n.position.x + 100, n.position.y + 32, { zoom: flow.getZoom(), duration: 200 });
      }
    },
    [flow, readOnly],
  );
  const layout = useCallback(() => {
    const st = useBuilder.getState();
    const doc = st.document();
    st.setPositions(autoLayout(doc.nodes, doc.edges));
    window.requestAnimationFrame(() => flow.fitView({ padding: 0.2, duration: 200, maxZoom: 1.2 }));
  }, [flow]);

  useEffect(() => {
    if (new URLSearchParams(location.search).get("import") && !readOnly) setDialog("import");
  }, [readOnly]);

  useShortcuts({ readOnly, openDialog: setDialog, layout, save: () => void saveVersion() });

  // The node inspector covers the lower part of the canvas: a node selected there is brought
  // into the part left visible.
  const revealSelected = useCallback(() => {
    const el = wrapper.current;
    const { selectedId, workflowId } = useBuilder.getState();
    if (!selectedId || !workflowId || !el) return;
    const n = flow.getNode(selectedId);
    const box = el.getBoundingClientRect();
    if (!n) return;
    const zoom = flow.getZoom();
    const bottom = flow.flowToScreenPosition({ x: n.position.x, y: n.position.y + (n.measured?.height ?? 64) }).y;
    const limit = box.top + box.height * 0.5;
    if (bottom > limit) {
      const { x, y } = flow.getViewport();
      void flow.setViewport({ x, y: y - (bottom - limit) - 16, zoom }, { duration: 200 });
    }
  }, [flow]);
  useEffect(() => {
    if (!s.selectedId || !s.workflowId) return;
    const frame = window.requestAnimationFrame(revealSelected);
    return () => window.cancelAnimationFrame(frame);
  }, [s.selectedId, s.workflowId, revealSelected]);

  // Opening the drawer narrows the canvas (closing it, or resizing the window, changes it
  // too). A workflow that was wholly in view stays wholly in view: otherwise its right-hand
  // nodes end up past the canvas's edge, out of sight and out of reach of a click.
  const canvasWidth = useStore((st) => st.width);
  const canvasHeight = useStore((st) => st.height);
  const lastSize = useRef({ width: canvasWidth, height: canvasHeight });
  useEffect(() => {
    const prev = lastSize.current;
    lastSize.current = { width: canvasWidth, height: canvasHeight };
    if (!prev.width || !prev.height || (prev.width === canvasWidth && prev.height === canvasHeight)) return;
    const nodes = flow.getNodes();
    if (!nodes.length) return;
    const bounds = flow.getNodesBounds(nodes);
    const { x, y, zoom } = flow.getViewport();
    const left = x + bounds.x * zoom;
    const top = y + bounds.y * zoom;
    const right = left + bounds.width * zoom;
    const bottom = top + bounds.height * zoom;
    const within = (width: number, height: number) => left >= 0 && top >= 0 && right <= width && bottom <= height;
    if (within(prev.width, prev.height) && !within(canvasWidth, canvasHeight)) {
      void flow.fitView({ padding: 0.2, maxZoom: 1.2 }).then(revealSelected);
    }
  }, [canvasWidth, canvasHeight, flow, revealSelected]);

  const issuesForSelected = selected ? s.issues.filter((i) => i.node === selected.id) : [];
  // Live run state, badges and pins on the canvas; the inspector for the selected node.
  const liveDoc = useMemo(() => useBuilder.getState().document(), [s.nodes, s.edges]);
  const live = useLiveCanvas(s.workflowId, liveDoc);

  return (
    <div className="by-app" data-saving={s.saveState}>
      <Toolbar boot={boot} openDialog={setDialog} layout={layout} readOnly={readOnly} />
      {s.message && (
        <div className={`by-banner by-banner-${s.saveState}`} role="status" data-testid={s.saveState === "conflict" ? "conflict" : "save-message"}>
          <span>{s.message}</span>
          {s.saveState === "conflict" && <ConflictActions />}
        </div>
      )}
      <div className="by-main">
        <Palette types={types} onAdd={(t) => addNode(t)} disabled={readOnly} />
        <div
          className="by-canvas-wrap"
          ref={wrapper}
          onDragOver={(e) => {
            if (e.dataTransfer.types.includes(DRAG_MIME)) {
              e.preventDefault();
              e.dataTransfer.dropEffect = "copy";
            }
          }}
          onDrop={(e) => {
            const type = e.dataTransfer.getData(DRAG_MIME);
            if (!type) return;
            e.preventDefault();
            const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
            addNode(type, { x: p.x - 100, y: p.y - 32 });
          }}
        >
          <WorkflowCanvas
            nodes={s.nodes}
            edges={s.edges}
            nodeTypes={s.types}
            issues={s.issues}
            statuses={live.statuses}
            notes={live.notes}
            activeEdges={live.activeEdges}
            readOnly={readOnly}
            onNodesChange={s.onNodesChange}
            onEdgesChange={s.onEdgesChange}
            onConnect={s.onConnect}
            onNodeClick={(e, n) => {
              // finishing a connection on a node is not a click on it
              if (!(e.target as HTMLElement).closest?.(".react-flow__handle")) s.select(n.id);
            }}
            onPaneClick={() => s.select(null)}
            onEdgeDoubleClick={(_e, edge) => {
              s.selectEdge(edge.id);
              setDialog("mapping");
            }}
            deleteKeyCode={null}
          />
          {s.nodes.length === 0 && (
            <div className="by-empty-canvas" data-testid="empty-canvas">
              <h2>Start with a trigger</h2>
              <p>Drag a node from the palette, or click one to add it. Then connect the handles.</p>
              {!s.workflowId && boot.templates.length > 0 && !readOnly && <TemplateChooser boot={boot} onImport={() => setDialog("import")} />}
            </div>
          )}
          {selected && s.workflowId && (
            <Inspector
              key={selected.id}
              workflowId={s.workflowId}
              node={selected.data.node}
              canWrite={!readOnly}
              pinned={live.pins.has(selected.id)}
              onPinned={live.refresh}
              run={live.run}
              onCallbackSent={live.reloadRun}
            />
          )}
        </div>
        {selected && (
          <Suspense fallback={<aside className="by-drawer" data-testid="config-drawer">Loading…</aside>}>
            <Drawer key={selected.id} node={selected.data.node} info={s.types[selected.data.node.type]} issues={issuesForSelected} ctx={ctx} onClose={() => s.select(null)} />
          </Suspense>
        )}
      </div>
      <Problems />
      {dialog && (
        <Suspense fallback={null}>
          <Dialogs open={dialog} onClose={() => setDialog(null)} boot={boot} types={types} />
        </Suspense>
      )}
    </div>
  );
}

export function App({ boot }: { boot: Boot }) {
  const [types, setTypes] = useState<NodeTypeInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    (async () => {
      try {
        const [t] = await Promise.all([
          fetchNodeTypes(),
          boot.workflow_id ? openWorkflow(boot.workflow_id) : useBuilder.getState().load(blankDocument(), { workflowId: null, version: 0 }),
        ]);
        useBuilder.getState().setTypes(t);
        setTypes(t);
        startAutosave();
      } catch (err) {
        setError((err as Error).message);
      }
    })();
    const onHide = () => void flushDraft();
    document.addEventListener("visibilitychange", onHide);
    return () => document.removeEventListener("visibilitychange", onHide);
  }, [boot.workflow_id]);
  if (error) return <div className="by-loading error" role="alert">The builder could not load: {error}</div>;
  if (!types) return <div className="by-loading">Loading the builder…</div>;
  return (
    <ReactFlowProvider>
      <Editor boot={boot} types={types} />
    </ReactFlowProvider>
  );
}
