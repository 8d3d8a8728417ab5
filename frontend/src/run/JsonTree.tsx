// A collapsible JSON tree with copy and search. Large values start folded and are drawn
// only when opened; a payload the server truncated for storage (over 256 KiB) shows its marker.
import { useMemo, useState } from "react";
import "./panels.css";

export const TRUNCATED = "_switchyard_truncated";
const LARGE_CHARS = 20_000;

function matches(value: unknown, needle: string): boolean {
  if (!needle) return true;
  return JSON.stringify(value ?? null).toLowerCase().includes(needle);
}

function Node({ name, value, depth, needle }: { name: string | null; value: unknown; depth: number; needle: string }) {
  const isObj = value !== null && typeof value === "object";
  const [open, setOpen] = useState(depth < 2);
  const label = name !== null ? <span className="jt-key">{name}: </span> : null;
  if (!isObj) {
    const text = JSON.stringify(value);
    const hit = needle && String(text).toLowerCase().includes(needle);
    return (
      <div className={`jt-row${hit ? " jt-hit" : ""}`}>
        {label}
        <span className={`jt-${value === null ? "null" : typeof value}`}>{text}</span>
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as object);
  const shown = needle ? entries.filter(([k, v]) => k.toLowerCase().includes(needle) || matches(v, needle)) : entries;
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return (
    <div className="jt-node">
      <button type="button" className="jt-toggle" onClick={() => setOpen(!open)} aria-expanded={open || !!needle}>
        {open || needle ? "▾" : "▸"} {label}
        <span className="jt-summary">{summary}</span>
      </button>
      {(open || !!needle) && (
        <div className="jt-children">
          {shown.map(([k, v]) => (
            <Node key={k} name={k} value={v} depth={depth + 1} needle={needle} />
          ))}
        </div>
      )}
    </div>
  );
}

const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;

/** The storage cap named by a truncation marker ("… truncated to 262144 bytes …"), 256 KiB by default. */
function limitOf(marker: any): number {
  const m = String(marker?.message ?? "").match(/truncated to (\d+) bytes/);
  return m ? Number(m[1]) : 256 * 1024;
}

export function JsonTree({ value, label, testid }: { value: unknown; label: string; testid?: string }) {
  const [query, setQuery] = useState("");
  const text = useMemo(() => JSON.stringify(value ?? null, null, 2), [value]);
  const large = text.length > LARGE_CHARS;
  const [shown, setShown] = useState(!large);
  const [copied, setCopied] = useState(false);
  const truncated = value !== null && typeof value === "object" && (value as any)[TRUNCATED];
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 1200);
  };
  return (
    <section className="jt" data-testid={testid}>
      <header className="jt-head">
        <strong>{label}</strong>
        <input
          type="search"
          placeholder="Search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          aria-label={`Search ${label}`}
        />
        <button type="button" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
      </header>
      {truncated && (
        <p className="jt-truncated" data-testid="truncated-marker">
          <strong>Truncated at {kib(limitOf(value))} for storage</strong>
          {typeof (value as any).size_bytes === "number" ? ` (the payload was ${kib((value as any).size_bytes)})` : ""}. The full value
          went to the next node; a preview of its start is kept.
        </p>
      )}
      {value === null || value === undefined ? (
        <p className="muted small">—</p>
      ) : shown ? (
        <div className="jt-body">
          <Node name={null} value={value} depth={0} needle={query.trim().toLowerCase()} />
        </div>
      ) : (
        <button type="button" className="jt-load" onClick={() => setShown(true)}>
          Show {Math.round(text.length / 1024)} KiB
        </button>
      )}
    </section>
  );
}
