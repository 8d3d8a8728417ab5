// One node on the canvas: icon, name, type, its named handles (labelled), its live status
// (`data-status`, driven by the caller) and its validation errors.
import { memo } from "react";
import { Handle, Position, type NodeProps } from "@xyflow/react";
import type { FlowNode } from "./convert";
import { useCanvas } from "./context";
import { inputHandles, outputHandles } from "./handles";
import { iconFor } from "./icons";

const ROW = 22;

function WorkflowNodeView({ id, data, selected }: NodeProps<FlowNode>) {
  const { types, statuses, issuesByNode, readOnly, usedHandles, notes } = useCanvas();
  const note = notes?.[id];
  const node = data.node;
  const info = types[node.type];
  const status = statuses[id] ?? "idle";
  const issues = issuesByNode[id] ?? [];
  const declared = outputHandles(node, info);
  // a handle an edge still uses stays drawn (marked stale) so the edge never vanishes silently
  const stale = (usedHandles[id] ?? []).filter((h) => !declared.includes(h));
  const outs = [...declared, ...stale];
  const ins = inputHandles(info);
  const Icon = iconFor(info?.icon, info?.category);
  const showLabels = outs.length > 1 || (outs.length === 1 && outs[0] !== "main");
  const height = Math.max(64, 30 + outs.length * ROW);
  const title = issues.length
    ? issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join("\n")
    : note?.title;
  return (
    <div
      className={`sy-node sy-cat-${info?.category ?? "unknown"}${showLabels ? " has-handle-labels" : ""}${selected ? " is-selected" : ""}${issues.length ? " has-errors" : ""}${info ? "" : " is-unknown"}`}
      data-node-id={id}
      data-node-type={node.type}
      data-status={status}
      style={{ minHeight: height }}
      title={title}
    >
      {ins.map((h) => (
        <Handle key={h} type="target" position={Position.Left} id={h} isConnectable={!readOnly} className="sy-handle" />
      ))}
      <div className="sy-node-head">
        <span className="sy-node-icon" aria-hidden="true"><Icon size={16} /></span>
        <div className="sy-node-text">
          <div className="sy-node-name">{node.name || info?.label || node.type}</div>
          <div className="sy-node-type">{node.id} · {info?.label ?? `unknown type ${node.type}`}</div>
        </div>
        <span className={`sy-node-status sy-s-${status}`} aria-label={`status ${status}`} />
      </div>
      {note?.detail && <div className="sy-node-detail" data-testid="node-detail">{note.detail}</div>}
      {(note?.badge || note?.pinned) && (
        <div className="sy-node-badges">
          {note.pinned && <span className="sy-node-pin" data-testid="node-pinned" title="pinned output">pinned</span>}
          {note.badge && <span className="sy-node-badge" data-testid="node-badge" title={note.badge}>{note.badge}</span>}
        </div>
      )}
      {issues.length > 0 && (
        <div className="sy-node-errors" data-testid="node-errors">
          {issues.length === 1 ? issues[0].message : `${issues.length} problems`}
        </div>
      )}
      {outs.map((h, i) => {
        const top = outs.length === 1 ? "50%" : `${30 + i * ROW + ROW / 2}px`;
        return (
          <div key={h}>
            <Handle
              type="source"
              position={Position.Right}
              id={h}
              isConnectable={!readOnly}
              className={`sy-handle sy-handle-${h === "error" ? "error" : "out"}${stale.includes(h) ? " is-stale" : ""}`}
              style={{ top }}
            />
            {showLabels && (
              <span className={`sy-handle-label${h === "error" ? " is-error" : ""}${stale.includes(h) ? " is-stale" : ""}`} style={{ top }} title={stale.includes(h) ? "no longer produced by this node's config" : undefined}>
                {h}
              </span>
            )}
          </div>
        );
      })}
    </div>
  );
}

export const WorkflowNode = memo(WorkflowNodeView);
