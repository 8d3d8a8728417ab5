"""FTP (and explicit FTPS with `ftps://`) through the standard library's ftplib. Passive
data connections go to the control connection's (checked) address, never to an address the
server names. A pooled connection stays logged in; NOOP checks it before reuse."""

from __future__ import annotations

import ftplib
import io
import posixpath
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from . import files
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, tls_context


class _Capped(io.BytesIO):
    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap

    def write(self, data) -> int:  # ftplib calls this per block
        if self.tell() + len(data) > self.cap:
            raise files.too_big(self.tell() + len(data), self.cap, "file")
        return super().write(data)


class _FtpConnection:
    def __init__(self, ftp: ftplib.FTP, base: str):
        self.ftp = ftp
        self.base = base
        self.broken = False

    @property
    def reusable(self) -> bool:
        return not self.broken and self.ftp.sock is not None

    def close(self) -> None:
        try:
            self.ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            self.ftp.close()


@register_adapter
class FtpAdapter(Adapter):
    id = "ftp"
    name = "FTP"
    description = "FTP and explicit FTPS through ftplib"
    family = "file"
    protocols = ("ftp", "ftps")
    default_port = 21
    operations = files.OPERATIONS

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _FtpConnection:
        port = settings.port or self.default_port
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        timeout = max(1.0, min(limits.timeout_s, 60))
        if settings.scheme == "ftps":
            ftp: ftplib.FTP = ftplib.FTP_TLS(context=tls_context(settings.tls), timeout=timeout)
            ftp.connect(address, port)  # the checked address ...
            ftp.host = settings.host  # ... and the name TLS checks the certificate against
        else:
            ftp = ftplib.FTP(timeout=timeout)
            ftp.connect(address, port)
        ftp.login(settings.username or "anonymous", settings.password or "")
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
        ftp.set_pasv(True)
        return _FtpConnection(ftp, settings.path or "/")

    def is_healthy(self, connection: _FtpConnection) -> bool:
        connection.ftp.voidcmd("NOOP")
        return True

    def execute(
        self, connection: _FtpConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        ftp = connection.ftp
        try:
            return self._run(ftp, connection.base, operation, params, limits)
        except files.NodeError as exc:
            if exc.details.get("max_bytes"):
                connection.broken = True  # an aborted transfer leaves the control channel mid-reply
            raise

    def _run(self, ftp: ftplib.FTP, base: str, operation: str, params: dict[str, Any], limits: Limits) -> Any:
        if operation == "list":
            path = files.remote_path(base, params, required=False)
            entries = []
            for name, facts in ftp.mlsd(path, facts=["type", "size", "modify"]):
                if facts.get("type") in ("cdir", "pdir"):
                    continue
                entries.append(
                    {
                        "name": name,
                        "path": posixpath.join(path, name),
                        "size": int(facts["size"]) if facts.get("size", "").isdigit() else None,
                        "is_dir": facts.get("type") == "dir",
                        "modified": facts.get("modify"),
                    }
                )
            entries.sort(key=lambda e: e["name"])
            return OperationResult({"path": path, "entries": entries}, messages=len(entries))
        path = files.remote_path(base, params)
        if operation == "upload":
            data = files.content_bytes(params, limits)
            ftp.storbinary(f"STOR {path}", io.BytesIO(data))
            return OperationResult({"path": path, "bytes": len(data)}, bytes=len(data))
        if operation == "download":
            cap = files.max_bytes(params, limits)
            sink = _Capped(cap)
            ftp.retrbinary(f"RETR {path}", sink.write)
            data = sink.getvalue()
            return OperationResult(files.read_output(path, data, params), bytes=len(data))
        ftp.delete(path)
        return OperationResult({"path": path, "deleted": True})

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, ftplib.error_perm):
            text = str(exc)
            if text.startswith("530"):
                return NodeError(
                    ErrorCategory.AUTHENTICATION_ERROR, f"FTP login refused: {text}", retryable=False
                )
            if text.startswith("550"):
                return NodeError(ErrorCategory.INTEGRATION_ERROR, f"FTP: {text}", retryable=False)
            return NodeError(ErrorCategory.INTEGRATION_ERROR, f"FTP refused: {text}", retryable=False)
        if isinstance(exc, ftplib.error_temp):
            return NodeError(ErrorCategory.SERVICE_UNAVAILABLE, f"FTP busy: {exc}")
        if isinstance(exc, EOFError | ftplib.error_reply | ftplib.error_proto):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"FTP connection broke: {exc!r}")
        return categorize_common(exc)
