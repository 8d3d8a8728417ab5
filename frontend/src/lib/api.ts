// The one REST client for every page: JSON in and out, the session's CSRF token on writes,
// and errors thrown as ApiError carrying the server's {code, message, details}.

export type ValidationIssue = {
  node: string | null;
  edge: number | null;
  field: string | null;
  message: string;
};

export class ApiError extends Error {
  status: number;
  code: string;
  details: any;
  constructor(status: number, code: string, message: string, details: any) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** The SPEC §2 per-node errors of a VALIDATION_ERROR, else []. */
  get issues(): ValidationIssue[] {
    return Array.isArray(this.details?.errors) ? this.details.errors : [];
  }
}

export const API_ROOT = "/api/v1";

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]");
  return input?.value ?? "";
}

export async function request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  const url = path.startsWith("/") ? path : `${API_ROOT}/${path}`;
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = data?.error ?? {};
    throw new ApiError(
      response.status,
      err.code ?? `HTTP_${response.status}`,
      err.message ?? `${method} ${url} answered ${response.status}`,
      err.details ?? data,
    );
  }
  return data as T;
}

export const api = {
  get: <T = any>(path: string) => request<T>("GET", path),
  post: <T = any>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  put: <T = any>(path: string, body: unknown) => request<T>("PUT", path, body),
  patch: <T = any>(path: string, body: unknown) => request<T>("PATCH", path, body),
  delete: (path: string) => request<void>("DELETE", path),
};

/** Every page of a paginated list (`count`/`next`/`results`). */
export async function listAll<T = any>(path: string, limit = 20): Promise<T[]> {
  const out: T[] = [];
  let next: string | null = path;
  for (let i = 0; next && i < limit; i++) {
    const page: any = await api.get(next);
    out.push(...(page.results ?? []));
    next = page.next ? new URL(page.next, location.href).pathname + new URL(page.next, location.href).search : null;
  }
  return out;
}

// ---- Typed helpers for the workflow API (SPEC §6) ----

export type NodeTypeInfo = {
  type: string;
  label: string;
  category: string;
  description: string;
  icon: string;
  is_trigger: boolean;
  handles: string[];
  dynamic_handles: boolean;
  /** The engine's rule for dynamic handles: the `key` of each object in config[path], then each named field. */
  handles_from?: { lists: { path: string; key: string }[]; fields: string[] } | null;
  config_schema: any;
  input_schema: any;
  output_schema: any;
};

let nodeTypesPromise: Promise<NodeTypeInfo[]> | null = null;

/** GET /node-types, fetched once per page. */
export function nodeTypes(): Promise<NodeTypeInfo[]> {
  if (!nodeTypesPromise) {
    // Every canvas draws from this list: a failed answer (network, 5xx on a loaded server) is
    // asked again, a few times, before the page goes on without it.
    const attempt = (left: number): Promise<NodeTypeInfo[]> =>
      api.get("node-types").then(
        (r: any) => r.results as NodeTypeInfo[],
        (err) => {
          if (left <= 0 || (err instanceof ApiError && err.status < 500)) throw err;
          return new Promise((resolve) => window.setTimeout(resolve, 500 * (4 - left))).then(() => attempt(left - 1));
        },
      );
    nodeTypesPromise = attempt(3);
    nodeTypesPromise.catch(() => (nodeTypesPromise = null));
  }
  return nodeTypesPromise;
}

export type Draft = {
  document: any;
  errors: ValidationIssue[];
  updated_at: string | null;
  base_version: number;
};

export const workflows = {
  get: (id: string) => api.get(`workflows/${id}`),
  create: (doc: any) => api.post(`workflows/`, doc),
  replace: (id: string, doc: any) => api.put(`workflows/${id}`, doc),
  patch: (id: string, changes: any) => api.patch(`workflows/${id}`, changes),
  remove: (id: string) => api.delete(`workflows/${id}`),
  exportDoc: (id: string) => api.get(`workflows/${id}/export`),
  importDoc: (doc: any) => api.post(`workflows/import`, doc),
  validate: (id: string) => api.post(`workflows/${id}/validate`),
  activate: (id: string) => api.post(`workflows/${id}/activate`),
  deactivate: (id: string) => api.post(`workflows/${id}/deactivate`),
  execute: (id: string, body: any) => api.post(`workflows/${id}/execute`, body),
  runs: (id: string) => api.get(`workflows/${id}/runs`),
  getDraft: (id: string) => api.get<Draft>(`workflows/${id}/draft`),
  putDraft: (id: string, document: any, base_version: number) =>
    api.put<Draft>(`workflows/${id}/draft`, { document, base_version }),
  versions: (id: string) => api.get(`workflows/${id}/versions`),
  version: (id: string, n: number) => api.get(`workflows/${id}/versions/${n}`),
};
