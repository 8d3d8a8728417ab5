import { createContext, useContext } from "react";
import type { NodeTypeInfo, ValidationIssue } from "../lib/api";

export type CanvasContextValue = {
  types: Record<string, NodeTypeInfo>;
  statuses: Record<string, string>;
  issuesByNode: Record<string, ValidationIssue[]>;
  readOnly: boolean;
};

export const CanvasContext = createContext<CanvasContextValue>({
  types: {},
  statuses: {},
  issuesByNode: {},
  readOnly: true,
});

export const useCanvas = () => useContext(CanvasContext);
