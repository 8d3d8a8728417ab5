// A template field on CodeMirror 6: `{{ … }}` highlighted, autocomplete of the names in scope
// (and filters after `|`), one line unless `multiline`.
import { useEffect, useRef } from "react";
import { autocompletion, completionKeymap, startCompletion, type CompletionContext } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { EditorState, type Extension } from "@codemirror/state";
import { Decoration, EditorView, keymap, MatchDecorator, placeholder as cmPlaceholder, ViewPlugin, type DecorationSet, type ViewUpdate } from "@codemirror/view";
import { FILTERS, type Completion } from "./scope";

const exprMark = Decoration.mark({ class: "cm-tpl" });
const exprDecorator = new MatchDecorator({ regexp: /\{\{[^}]*\}?\}?/g, decoration: () => exprMark });
const highlightTemplates = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = exprDecorator.createDeco(view);
    }
    update(u: ViewUpdate) {
      this.decorations = exprDecorator.updateDeco(u, this.decorations);
    }
  },
  { decorations: (v) => v.decorations },
);

/** Typing `{{` opens a template: `{{ | }}`, with the names in scope offered right away. */
const openTemplate = EditorView.inputHandler.of((view, from, to, text) => {
  // the space typed right after `{{` is already there
  if (text === " " && from === to && view.state.sliceDoc(from - 3, from) === "{{ " && view.state.sliceDoc(to, to + 3) === " }}") return true;
  if (text !== "{" || view.state.sliceDoc(from - 1, from) !== "{" || view.state.sliceDoc(to, to + 2) === "}}") return false;
  view.dispatch({ changes: { from, to, insert: "{  }}" }, selection: { anchor: from + 2 }, userEvent: "input.type" });
  startCompletion(view);
  return true;
});

function insideTemplate(text: string): boolean {
  return text.lastIndexOf("{{") > text.lastIndexOf("}}");
}

function completionSource(getNames: () => Completion[]) {
  return (ctx: CompletionContext) => {
    const before = ctx.state.sliceDoc(0, ctx.pos);
    if (!insideTemplate(before)) {
      if (ctx.explicit || /\{$/.test(before)) {
        return { from: ctx.pos, options: [{ label: "{{ }}", apply: "{{  }}", type: "keyword", detail: "template" }] };
      }
      return null;
    }
    const filter = ctx.matchBefore(/\|\s*[a-z]*$/);
    if (filter) {
      const word = ctx.matchBefore(/[a-z]*$/)!;
      return { from: word.from, options: FILTERS };
    }
    const path = ctx.matchBefore(/[A-Za-z_][A-Za-z0-9_.]*$/) ?? (ctx.explicit || /\{\{\s*$/.test(before) ? { from: ctx.pos, to: ctx.pos, text: "" } : null);
    if (!path) return null;
    const names = getNames();
    const prefix = path.text;
    const dot = prefix.lastIndexOf(".");
    const parent = dot >= 0 ? prefix.slice(0, dot + 1) : "";
    // Offer the next segment only: after `nodes.` list node ids, not every deep path.
    const options = names
      .filter((n) => n.label.startsWith(parent) && !n.label.slice(parent.length).includes("."))
      .map((n) => ({ ...n, label: n.label }));
    return { from: path.from, options, validFor: /^[A-Za-z0-9_]*$/ }; // a dot asks again (next segment)
  };
}

const theme = EditorView.theme({
  "&": { fontSize: "13px", border: "1px solid var(--line)", borderRadius: "6px", background: "var(--input-bg, #fff)" },
  "&.cm-focused": { outline: "2px solid var(--accent)", outlineOffset: "0" },
  ".cm-content": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", padding: "5px 2px", caretColor: "var(--fg)" },
  ".cm-line": { padding: "0 6px" },
  ".cm-tpl": { color: "var(--tpl, #6a3fd1)", background: "var(--tpl-bg, #f1ecfd)", borderRadius: "3px" },
  ".cm-scroller": { overflowX: "auto" },
});

export type ExpressionInputProps = {
  id?: string;
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  getNames: () => Completion[];
  multiline?: boolean;
  placeholder?: string;
  readOnly?: boolean;
  ariaLabel?: string;
};

export function ExpressionInput({ id, value, onChange, onBlur, getNames, multiline, placeholder, readOnly, ariaLabel }: ExpressionInputProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  const namesRef = useRef(getNames);
  onChangeRef.current = onChange;
  namesRef.current = getNames;

  useEffect(() => {
    const extensions: Extension[] = [
      history(),
      openTemplate,
      highlightTemplates,
      autocompletion({ override: [completionSource(() => namesRef.current())], activateOnTyping: true, icons: false }),
      keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap]),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) onChangeRef.current(u.state.doc.toString());
        if (u.focusChanged && !u.view.hasFocus) onBlur?.();
      }),
      EditorView.contentAttributes.of({ "aria-label": ariaLabel ?? "template", ...(id ? { id } : {}), "data-expression": "true" }),
      EditorState.readOnly.of(!!readOnly),
      theme,
    ];
    if (placeholder) extensions.push(cmPlaceholder(placeholder));
    if (!multiline) extensions.push(EditorState.transactionFilter.of((tr) => (tr.newDoc.lines > 1 ? [] : tr)));
    else extensions.push(EditorView.lineWrapping);
    view.current = new EditorView({ parent: host.current!, state: EditorState.create({ doc: value ?? "", extensions }) });
    return () => view.current?.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = view.current;
    if (v && (value ?? "") !== v.state.doc.toString()) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value ?? "" } });
    }
  }, [value]);

  return <div className="by-expr" ref={host} />;
}
