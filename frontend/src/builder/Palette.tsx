// The palette: every type from /node-types, grouped by category, searchable. Drag an item onto
// the canvas, or click it (or press Enter) to add it after the selected node.
import { useMemo, useState } from "react";
import { iconFor } from "../canvas";
import type { NodeTypeInfo } from "../lib/api";

export const DRAG_MIME = "application/x-switchyard-node-type";

const CATEGORY_ORDER = ["trigger", "logic", "data", "http", "flow", "connector", "provider"];
const CATEGORY_LABEL: Record<string, string> = {
  trigger: "Triggers", logic: "Logic", data: "Data", http: "HTTP", flow: "Flow", connector: "Connectors", provider: "Providers",
};

export function Palette({ types, onAdd, disabled }: { types: NodeTypeInfo[]; onAdd: (type: string) => void; disabled?: boolean }) {
  const [query, setQuery] = useState("");
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const match = (t: NodeTypeInfo) =>
      !q || [t.type, t.label, t.description, t.category].some((s) => (s ?? "").toLowerCase().includes(q));
    const byCat: Record<string, NodeTypeInfo[]> = {};
    for (const t of types) if (match(t)) (byCat[t.category] ??= []).push(t);
    const cats = Object.keys(byCat).sort((a, b) => {
      const ia = CATEGORY_ORDER.indexOf(a), ib = CATEGORY_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    return cats.map((c) => ({ category: c, items: byCat[c].sort((a, b) => a.label.localeCompare(b.label)) }));
  }, [types, query]);

  return (
    <aside className="by-palette" data-testid="palette" aria-label="Node palette">
      <input
        type="search"
        className="by-search"
        placeholder="Search nodes…"
        aria-label="Search nodes"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        data-testid="palette-search"
      />
      {groups.length === 0 && <p className="by-empty">No node type matches “{query}”.</p>}
      {groups.map((g) => (
        <section key={g.category} className="by-group">
          <h3>{CATEGORY_LABEL[g.category] ?? g.category.replace(/^./, (c) => c.toUpperCase())}</h3>
          {g.items.map((t) => {
            const Icon = iconFor(t.icon, t.category);
            return (
              <button
                type="button"
                key={t.type}
                className={`by-item sy-cat-${t.category}`}
                data-testid={`palette-item-${t.type}`}
                draggable={!disabled}
                disabled={disabled}
                title={`${t.description || t.label}\n(drag onto the canvas, or click to add after the selected node)`}
                onDragStart={(e) => {
                  e.dataTransfer.setData(DRAG_MIME, t.type);
                  e.dataTransfer.setData("text/plain", t.type);
                  e.dataTransfer.effectAllowed = "copy";
                }}
                onClick={() => onAdd(t.type)}
              >
                <span className="sy-node-icon" aria-hidden="true"><Icon size={15} /></span>
                <span className="by-item-text">
                  <span className="by-item-label">{t.label}</span>
                  <span className="by-item-desc">{t.description}</span>
                </span>
              </button>
            );
          })}
        </section>
      ))}
    </aside>
  );
}
