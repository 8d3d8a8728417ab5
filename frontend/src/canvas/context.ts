import { createContext, useContext } from "react";
import type { NodeTypeInfo, ValidationIssue } from "../lib/api";

/** Extra, optional per-node annotations a page may draw (run pages, live builder). */
export type NodeNote = {
  title?: string; // hover text (e.g. the error's category and message)
  detail?: string; // one line under the name ("attempt 2 of 3", "iteration 3 of 10", "waiting for …")
  badge?: string; // statistics line ("12 today · 92% ok · 40 ms")
  pinned?: boolean; // the node has a pinned output
};

export type CanvasContextValue = {
  types: Record<string, NodeTypeInfo>;
  statuses: Record<string, string>;
  issuesByNode: Record<string, ValidationIssue[]>;
  readOnly: boolean;
  notes?: Record<string, NodeNote>;
  usedHandles: Record<string, string[]>;
};

export const CanvasContext = createContext<CanvasContextValue>({
  types: {},
  statuses: {},
  issuesByNode: {},
  readOnly: true,
  usedHandles: {},
});

export const useCanvas = () => useContext(CanvasContext);
