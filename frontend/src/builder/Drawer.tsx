// The config drawer for the selected node: name and id, the form generated from the type's
// config_schema (rjsf), retry/backoff, timeout, on_error/on_timeout, default_output, and each
// validation error next to its field (the server's message, as the user types).
import { useMemo, useState } from "react";
import Form from "@rjsf/core";
import validator from "@rjsf/validator-ajv8";
import { deepEquals, getDefaultFormState, type ErrorSchema, type RJSFValidationError } from "@rjsf/utils";
import type { NodeTypeInfo, ValidationIssue } from "../lib/api";
import { iconFor, type DocNode } from "../canvas";
import { ConditionField, FormContext, JsonField, KeyValueField, TemplateWidget, titled, uiSchemaFor, type FormCtx } from "./fields";
import { useBuilder } from "./store";

const WIDGETS = { TextWidget: TemplateWidget, TextareaWidget: TemplateWidget };
const FIELDS = { condition: ConditionField, json: JsonField, keyvalue: KeyValueField };

function extraErrorsFrom(issues: ValidationIssue[]): ErrorSchema {
  const root: any = {};
  for (const i of issues) {
    if (!i.field?.startsWith("config")) continue;
    const parts = i.field.split(".").slice(1).filter(Boolean);
    let cur = root;
    for (const p of parts) cur = cur[p] ??= {};
    (cur.__errors ??= []).push(i.message);
  }
  return root;
}

function FieldIssues({ issues, field }: { issues: ValidationIssue[]; field: string }) {
  const mine = issues.filter((i) => i.field === field || i.field?.startsWith(`${field}.`));
  if (!mine.length) return null;
  return <div className="by-field-error" role="alert">{mine.map((i) => i.message).join(" · ")}</div>;
}

export default function Drawer({ node, info, issues, ctx, onClose }: { node: DocNode; info?: NodeTypeInfo; issues: ValidationIssue[]; ctx: FormCtx; onClose: () => void }) {
  const updateNode = useBuilder((s) => s.updateNode);
  const renameNodeId = useBuilder((s) => s.renameNodeId);
  const [idDraft, setIdDraft] = useState(node.id);
  const [idError, setIdError] = useState<string | null>(null);
  const [defaultText, setDefaultText] = useState(node.default_output === undefined ? "" : JSON.stringify(node.default_output));
  const schema = useMemo(() => titled(info?.config_schema ?? { type: "object" }), [info]);
  const uiSchema = useMemo(() => ({ ...uiSchemaFor(schema), "ui:submitButtonOptions": { norender: true } }), [schema]);
  const extraErrors = useMemo(() => extraErrorsFrom(issues), [issues]);
  const retry = node.retry ?? {};
  const Icon = iconFor(info?.icon, info?.category);
  const setRetry = (patch: Record<string, any>) => {
    const next: Record<string, any> = { ...retry, ...patch };
    for (const k of Object.keys(next)) if (next[k] === "" || next[k] === undefined || Number.isNaN(next[k])) delete next[k];
    updateNode(node.id, { retry: next });
  };
  const other = issues.filter((i) => !i.field?.startsWith("config"));

  return (
    <aside className="by-drawer" data-testid="config-drawer" aria-label={`Configure ${node.name || node.id}`}>
      <header className="by-drawer-head">
        <span className={`sy-node-icon sy-cat-${info?.category}`} aria-hidden="true"><Icon size={16} /></span>
        <div>
          <div className="by-drawer-title">{info?.label ?? node.type}</div>
          <div className="by-help">{info?.description}</div>
        </div>
        <button type="button" className="by-icon-btn" aria-label="Close the drawer" onClick={onClose}>×</button>
      </header>
      {issues.length > 0 && (
        <div className="by-drawer-issues" role="alert">
          {issues.map((i, n) => <div key={n}><code>{i.field ?? "node"}</code> {i.message}</div>)}
        </div>
      )}
      <div className="by-drawer-body">
        <label className="by-field">
          <span className="by-label">Name</span>
          <input data-testid="node-name" value={node.name ?? ""} onChange={(e) => updateNode(node.id, { name: e.target.value })} />
        </label>
        <label className="by-field">
          <span className="by-label">Id <span className="by-help">(used in <code>{"{{ nodes.<id> }}"}</code>)</span></span>
          <input
            data-testid="node-id"
            value={idDraft}
            onChange={(e) => setIdDraft(e.target.value)}
            onBlur={() => setIdError(renameNodeId(node.id, idDraft.trim()))}
            onKeyDown={(e) => e.key === "Enter" && setIdError(renameNodeId(node.id, idDraft.trim()))}
          />
          {idError && <div className="by-field-error">{idError}</div>}
          <FieldIssues issues={other} field="id" />
        </label>
        <FieldIssues issues={other} field="type" />
        <section className="by-section" data-testid="config-form">
          <h4>Settings of this {info?.label ?? "node"}</h4>
          <FormContext.Provider value={ctx}>
            <Form
              schema={schema}
              uiSchema={uiSchema}
              formData={node.config ?? {}}
              validator={validator}
              widgets={WIDGETS}
              fields={FIELDS}
              extraErrors={extraErrors}
              liveValidate
              showErrorList={false}
              noHtml5Validate
              transformErrors={(errors: RJSFValidationError[]) => errors.filter((e) => e.name !== "oneOf" && e.name !== "anyOf")}
              onChange={(e) => {
                const config = e.formData ?? {};
                // Opening a node fills the form's defaults in: that alone is not an edit.
                if (deepEquals(config, getDefaultFormState(validator, schema, node.config ?? {}))) return;
                updateNode(node.id, { config });
              }}
            />
          </FormContext.Provider>
        </section>
        <section className="by-section">
          <h4>When it fails</h4>
          <div className="by-grid2">
            <label className="by-field">
              <span className="by-label">Attempts</span>
              <input type="number" min={1} max={20} data-testid="retry-attempts" value={retry.max_attempts ?? 1}
                onChange={(e) => setRetry({ max_attempts: e.target.value === "" ? undefined : Number(e.target.value) })} />
            </label>
            <label className="by-field">
              <span className="by-label">Backoff</span>
              <select value={retry.backoff ?? "exponential"} onChange={(e) => setRetry({ backoff: e.target.value })}>
                <option value="exponential">exponential</option><option value="linear">linear</option><option value="fixed">fixed</option>
              </select>
            </label>
            <label className="by-field">
              <span className="by-label">First delay (ms)</span>
              <input type="number" min={0} value={retry.initial_delay_ms ?? ""} placeholder="1000" onChange={(e) => setRetry({ initial_delay_ms: e.target.value === "" ? undefined : Number(e.target.value) })} />
            </label>
            <label className="by-field">
              <span className="by-label">Max delay (ms)</span>
              <input type="number" min={0} value={retry.max_delay_ms ?? ""} placeholder="60000" onChange={(e) => setRetry({ max_delay_ms: e.target.value === "" ? undefined : Number(e.target.value) })} />
            </label>
          </div>
          <FieldIssues issues={other} field="retry" />
          <div className="by-grid2">
            <label className="by-field">
              <span className="by-label">Timeout (ms)</span>
              <input type="number" min={1} data-testid="timeout-ms" value={node.timeout_ms ?? ""} placeholder="none"
                onChange={(e) => updateNode(node.id, { timeout_ms: e.target.value === "" ? undefined : Number(e.target.value) })} />
              <FieldIssues issues={other} field="timeout_ms" />
            </label>
            <label className="by-field">
              <span className="by-label">On error</span>
              <select data-testid="on-error" value={node.on_error ?? "fail"} onChange={(e) => updateNode(node.id, { on_error: e.target.value })}>
                <option value="fail">fail the run</option><option value="skip">skip and go on</option><option value="route">route to the error handle</option>
              </select>
            </label>
            <label className="by-field">
              <span className="by-label">On timeout</span>
              <select value={node.on_timeout ?? "fail"} onChange={(e) => updateNode(node.id, { on_timeout: e.target.value })}>
                <option value="fail">fail</option><option value="continue">continue (as skip)</option><option value="default">use the default output</option>
              </select>
            </label>
          </div>
          {node.on_timeout === "default" && (
            <label className="by-field">
              <span className="by-label">Default output (JSON)</span>
              <textarea className="by-json" rows={3} value={defaultText} onChange={(e) => {
                setDefaultText(e.target.value);
                try { updateNode(node.id, { default_output: e.target.value.trim() ? JSON.parse(e.target.value) : undefined }); } catch { /* not JSON yet */ }
              }} />
              <FieldIssues issues={other} field="default_output" />
            </label>
          )}
        </section>
      </div>
    </aside>
  );
}
