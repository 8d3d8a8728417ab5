// A read-only view of a whole document: for run pages and previews. Fetches /node-types
// itself unless given them; re-renders statuses without re-laying out.
import { useEffect, useMemo, useState } from "react";
import { ReactFlowProvider } from "@xyflow/react";
import { nodeTypes as fetchNodeTypes, type NodeTypeInfo, type ValidationIssue } from "../lib/api";
import { docToFlow } from "./convert";
import type { NodeNote } from "./context";
import type { WorkflowDocument } from "./handles";
import { WorkflowCanvas } from "./WorkflowCanvas";

export type WorkflowPreviewProps = {
  document: Pick<WorkflowDocument, "nodes" | "edges">;
  statuses?: Record<string, string>;
  issues?: ValidationIssue[];
  nodeTypes?: NodeTypeInfo[];
  minimap?: boolean;
  onNodeClick?: (nodeId: string) => void;
  notes?: Record<string, NodeNote>;
  activeEdges?: string[];
};

export function WorkflowPreview({
  document,
  statuses,
  issues,
  nodeTypes,
  minimap = false,
  onNodeClick,
  notes,
  activeEdges,
}: WorkflowPreviewProps) {
  const [types, setTypes] = useState<NodeTypeInfo[]>(nodeTypes ?? []);
  useEffect(() => {
    if (!nodeTypes) fetchNodeTypes().then(setTypes, () => setTypes([]));
    else setTypes(nodeTypes);
  }, [nodeTypes]);
  const { nodes, edges } = useMemo(() => docToFlow(document), [document]);
  return (
    <ReactFlowProvider>
      <WorkflowCanvas
        nodes={nodes}
        edges={edges}
        nodeTypes={types}
        statuses={statuses}
        issues={issues}
        readOnly
        minimap={minimap}
        notes={notes}
        activeEdges={activeEdges}
        onNodeClick={onNodeClick ? (_e, n) => onNodeClick(n.id) : undefined}
      />
    </ReactFlowProvider>
  );
}
