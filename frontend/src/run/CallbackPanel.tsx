// For a node that waits for a callback: the URL (copy, QR code), a form that sends a test
// callback to it, and every callback the server received for this run (headers masked).
import { useEffect, useState } from "react";
import QRCode from "qrcode";
import "./panels.css";

export type Receipt = {
  node_id: string;
  iteration: number | null;
  received_at: string;
  outcome: string;
  payload: any;
  headers: Record<string, string>;
  remote_addr: string | null;
};

export function CallbackPanel({ nodeId, url, expiresAt, receipts, onSent }: {
  nodeId: string;
  url: string | null;
  expiresAt?: string | null;
  receipts: Receipt[];
  onSent: () => void;
}) {
  const [qr, setQr] = useState("");
  const [body, setBody] = useState('{"ok": true}');
  const [message, setMessage] = useState("");
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (url) QRCode.toDataURL(url, { margin: 1, width: 160 }).then(setQr, () => setQr(""));
  }, [url]);
  const mine = receipts.filter((r) => r.node_id === nodeId);
  const send = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!url) return;
    try {
      JSON.parse(body);
    } catch (e: any) {
      setMessage(`Not valid JSON: ${e.message}`);
      return;
    }
    const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const text = await res.text();
    setMessage(res.ok ? `Sent: the server answered ${res.status}.` : `The server answered ${res.status}: ${text.slice(0, 200)}`);
    onSent();
  };
  const copy = async () => {
    if (!url) return;
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      /* the field is selectable */
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 1200);
  };
  return (
    <section className="card rv-callback" data-testid="callback-panel">
      <h3>Callback</h3>
      {url ? (
        <>
          <div className="copy-row">
            <input type="text" readOnly value={url} aria-label="Callback URL" data-testid="callback-url" onFocus={(e) => e.target.select()} />
            <button type="button" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
          </div>
          {expiresAt && <p className="muted small">Expires {new Date(expiresAt).toLocaleString()}</p>}
          {qr && <img src={qr} alt="QR code of the callback URL" className="rv-qr" data-testid="callback-qr" width={160} height={160} />}
          <form onSubmit={send} className="rv-callback-form">
            <label htmlFor="callback-body">Send a test callback (JSON body)</label>
            <textarea id="callback-body" rows={3} value={body} onChange={(e) => setBody(e.target.value)} spellCheck={false} />
            <button type="submit" className="primary" data-testid="send-callback">Send test callback</button>
            {message && <span className="small" data-testid="callback-result">{message}</span>}
          </form>
        </>
      ) : (
        <p className="muted small">The node is not waiting for a callback now.</p>
      )}
      <h4>Received</h4>
      {!mine.length ? (
        <p className="empty">No callback received yet.</p>
      ) : (
        <table className="rv-receipts" data-testid="callback-receipts">
          <thead>
            <tr><th>Time</th><th>Outcome</th><th>Payload</th><th>Headers</th></tr>
          </thead>
          <tbody>
            {mine.map((r, i) => (
              <tr key={i}>
                <td><time dateTime={r.received_at}>{new Date(r.received_at).toLocaleTimeString()}</time></td>
                <td>{r.outcome}</td>
                <td><code>{JSON.stringify(r.payload)}</code></td>
                <td><code className="small">{Object.entries(r.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n")}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
