// The one websocket client (SPEC §7): `/ws/runs/<id>/` and `/ws/workflows/<id>/`, JSON events,
// reconnecting with backoff until closed. On (re)connect the server sends a `snapshot` first.

export type LiveEvent =
  | { type: "snapshot"; [key: string]: any }
  | { type: "node.status"; run_id: string; node_id: string; status: string; attempt?: number; duration_ms?: number | null; error?: any }
  | { type: "run.status"; run_id: string; status: string }
  | { type: string; [key: string]: any };

export type LiveConnection = { close(): void; readonly connected: boolean };

export type LiveOptions = {
  onEvent: (event: LiveEvent) => void;
  onState?: (state: "open" | "closed" | "reconnecting") => void;
  maxDelayMs?: number;
};

function wsUrl(path: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

export function connectLive(path: string, options: LiveOptions): LiveConnection {
  let socket: WebSocket | null = null;
  let closed = false;
  let delay = 500;
  let connected = false;
  let timer: number | undefined;

  const open = () => {
    socket = new WebSocket(wsUrl(path));
    socket.onopen = () => {
      connected = true;
      delay = 500;
      options.onState?.("open");
    };
    socket.onmessage = (msg) => {
      try {
        options.onEvent(JSON.parse(msg.data));
      } catch {
        /* a frame that is not JSON is not an event */
      }
    };
    socket.onclose = () => {
      connected = false;
      if (closed) return options.onState?.("closed");
      options.onState?.("reconnecting");
      timer = window.setTimeout(open, delay);
      delay = Math.min(delay * 2, options.maxDelayMs ?? 10_000);
    };
  };
  open();
  return {
    close() {
      closed = true;
      if (timer) window.clearTimeout(timer);
      socket?.close();
    },
    get connected() {
      return connected;
    },
  };
}

export const connectRun = (runId: string, options: LiveOptions) => connectLive(`/ws/runs/${runId}/`, options);
export const connectWorkflow = (workflowId: string, options: LiveOptions) =>
  connectLive(`/ws/workflows/${workflowId}/`, options);
