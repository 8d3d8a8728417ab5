// Keyboard shortcuts (listed in the `?` overlay). Copy/paste use the clipboard as interchange
// JSON, so a selection can be pasted into another workflow (or another tab).
import { useEffect } from "react";
import { useReactFlow } from "@xyflow/react";
import { SCHEMA, flowToDoc } from "../canvas";
import type { DialogName } from "./dialogs";
import { useBuilder } from "./store";

export const SHORTCUTS: [string, string][] = [
  ["Ctrl/⌘ + S", "Save a version"],
  ["Ctrl/⌘ + Z", "Undo"],
  ["Ctrl/⌘ + Shift + Z, Ctrl/⌘ + Y", "Redo"],
  ["Ctrl/⌘ + C / X / V", "Copy / cut / paste the selection (as workflow JSON)"],
  ["Ctrl/⌘ + A", "Select every node"],
  ["Ctrl/⌘ + D", "Duplicate the selection"],
  ["Delete, Backspace", "Delete the selection"],
  ["Shift + drag, Shift + click", "Select several nodes"],
  ["F", "Fit the workflow to the screen"],
  ["L", "Auto-layout"],
  ["+ / −", "Zoom in / out"],
  ["Escape", "Close the drawer or dialog, clear the selection"],
  ["?", "This list"],
];

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || !!el.closest?.(".cm-editor");
}

export function selectionAsDocument() {
  const s = useBuilder.getState();
  const nodes = s.nodes.filter((n) => n.selected || n.id === s.selectedId);
  const ids = new Set(nodes.map((n) => n.id));
  const doc = flowToDoc(nodes, s.edges.filter((e) => ids.has(e.source) && ids.has(e.target)));
  return { schema: SCHEMA, nodes: doc.nodes, edges: doc.edges };
}

export function pasteText(text: string): boolean {
  try {
    const doc = JSON.parse(text);
    if (!doc || !Array.isArray(doc.nodes)) return false;
    useBuilder.getState().pasteFragment(doc.nodes.filter((n: any) => n && n.id && n.type), Array.isArray(doc.edges) ? doc.edges : []);
    return true;
  } catch {
    return false;
  }
}

let memoryClipboard = "";

export function useShortcuts(opts: { readOnly: boolean; openDialog: (d: DialogName | null) => void; layout: () => void; save: () => void }) {
  const flow = useReactFlow();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        if (!opts.readOnly) opts.save();
        return;
      }
      if (typing(e.target) || document.querySelector(".by-modal")) {
        if (e.key === "Escape") opts.openDialog(null);
        return;
      }
      const s = useBuilder.getState();
      if (e.key === "Escape") return s.select(null);
      if (e.key === "?") return opts.openDialog("shortcuts");
      if (!mod && key === "f") return void flow.fitView({ padding: 0.2, duration: 200, maxZoom: 1.2 });
      if (!mod && (e.key === "+" || e.key === "=")) return void flow.zoomIn();
      if (!mod && e.key === "-") return void flow.zoomOut();
      if (opts.readOnly) return;
      if (!mod && key === "l") return opts.layout();
      if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        return s.deleteSelection();
      }
      if (!mod) return;
      if (key === "z" && !e.shiftKey) return (e.preventDefault(), s.undo());
      if ((key === "z" && e.shiftKey) || key === "y") return (e.preventDefault(), s.redo());
      if (key === "a") {
        e.preventDefault();
        return useBuilder.setState((st) => ({ nodes: st.nodes.map((n) => ({ ...n, selected: true })) }));
      }
      if (key === "c" || key === "x" || key === "d") {
        const doc = selectionAsDocument();
        if (!doc.nodes.length) return;
        e.preventDefault();
        const text = JSON.stringify(doc, null, 2);
        if (key === "d") return void s.pasteFragment(doc.nodes, doc.edges);
        memoryClipboard = text;
        navigator.clipboard?.writeText(text).catch(() => undefined);
        if (key === "x") s.deleteSelection();
        return;
      }
    };
    const onPaste = (e: ClipboardEvent) => {
      if (opts.readOnly || typing(e.target) || document.querySelector(".by-modal")) return;
      const text = e.clipboardData?.getData("text/plain") || memoryClipboard;
      if (text && pasteText(text)) e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("paste", onPaste);
    };
  }, [flow, opts]);
}
