"""SFTP through asyncssh (on the adapters' loop). A pooled connection keeps the SSH session
and its SFTP channel. Authentication by password or `private_key` (PEM/OpenSSH text); with
`host_key` (the server's public key, OpenSSH format) the server must present exactly that
key, otherwise any host key is accepted — set it for anything beyond a trusted network."""

from __future__ import annotations

from typing import Any

import asyncssh

from workflows.engine.errors import ErrorCategory, NodeError

from . import aioloop, files
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address


class _SftpConnection:
    def __init__(self, ssh, sftp, base: str):
        self.ssh = ssh
        self.sftp = sftp
        self.base = base  # the URL's path: every path is relative to it

    @property
    def reusable(self) -> bool:
        return not self.ssh.is_closed()

    def close(self) -> None:
        async def shut():
            self.sftp.exit()
            self.ssh.close()
            await self.ssh.wait_closed()

        aioloop.run(shut(), 5)


@register_adapter
class SftpAdapter(Adapter):
    id = "sftp"
    name = "SFTP"
    description = "SFTP over SSH through asyncssh"
    family = "file"
    protocols = ("sftp",)
    default_port = 22
    operations = files.OPERATIONS

    def validate_connection_config(self, settings: ConnectionSettings) -> list[str]:
        problems = super().validate_connection_config(settings)
        if not settings.username:
            problems.append("data.url must name a user (sftp://user@host)")
        if settings.field("private_key"):
            try:
                asyncssh.import_private_key(settings.field("private_key"), settings.field("passphrase"))
            except (asyncssh.KeyImportError, ValueError):
                problems.append("data.private_key is not a private key asyncssh can read")
        if settings.field("host_key"):
            try:
                asyncssh.import_public_key(settings.field("host_key"))
            except (asyncssh.KeyImportError, ValueError):
                problems.append("data.host_key is not an OpenSSH public key")
        return problems

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _SftpConnection:
        port = settings.port or self.default_port
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        options: dict[str, Any] = {
            "username": settings.username,
            "password": settings.password,
            "known_hosts": None,
            "connect_timeout": max(1.0, min(limits.timeout_s, 30)),
            "agent_path": None,
            "client_keys": None,
        }
        if settings.field("private_key"):
            key = asyncssh.import_private_key(settings.field("private_key"), settings.field("passphrase"))
            options["client_keys"] = [key]
        if settings.field("host_key"):
            options["known_hosts"] = ([asyncssh.import_public_key(settings.field("host_key"))], [], [])

        async def open_session():
            ssh = await asyncssh.connect(address, port, **options)
            try:
                return _SftpConnection(ssh, await ssh.start_sftp_client(), settings.path)
            except BaseException:
                ssh.close()
                raise

        return aioloop.run(open_session(), limits.timeout_s)

    def is_healthy(self, connection: _SftpConnection) -> bool:
        if not connection.reusable:
            return False
        aioloop.run(connection.sftp.stat("."), 5)
        return True

    def execute(
        self, connection: _SftpConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        run = self._run(connection.sftp, operation, params, limits, connection.base)
        return aioloop.run(run, limits.timeout_s)

    async def _run(self, sftp, operation, params, limits, base) -> OperationResult:
        if operation == "list":
            path = files.remote_path(base, params, required=False)
            entries = []
            for entry in await sftp.readdir(path):
                if entry.filename in (".", ".."):
                    continue
                attrs = entry.attrs
                entries.append(
                    {
                        "name": entry.filename,
                        "path": f"{path.rstrip('/')}/{entry.filename}",
                        "size": attrs.size,
                        "is_dir": attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY,
                        "modified": attrs.mtime,
                    }
                )
            entries.sort(key=lambda e: e["name"])
            return OperationResult({"path": path, "entries": entries}, messages=len(entries))
        path = files.remote_path(base, params)
        if operation == "upload":
            data = files.content_bytes(params, limits)
            async with sftp.open(path, "wb") as handle:
                await handle.write(data)
            return OperationResult({"path": path, "bytes": len(data)}, bytes=len(data))
        if operation == "download":
            cap = files.max_bytes(params, limits)
            size = (await sftp.stat(path)).size or 0
            if size > cap:
                raise files.too_big(size, cap, "file")
            async with sftp.open(path, "rb") as handle:
                data = await handle.read(cap + 1)
            if len(data) > cap:
                raise files.too_big(len(data), cap, "file")
            return OperationResult(files.read_output(path, data, params), bytes=len(data))
        await sftp.remove(path)
        return OperationResult({"path": path, "deleted": True})

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, asyncssh.SFTPNoSuchFile):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, f"no such file: {exc.reason}", retryable=False)
        if isinstance(exc, asyncssh.SFTPPermissionDenied):
            return NodeError(
                ErrorCategory.AUTHENTICATION_ERROR, f"permission denied: {exc.reason}", retryable=False
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            return NodeError(
                ErrorCategory.AUTHENTICATION_ERROR, "the SSH server refused the login", retryable=False
            )
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return NodeError(
                ErrorCategory.AUTHENTICATION_ERROR,
                "the server's host key is not the configured host_key",
                retryable=False,
            )
        if isinstance(exc, asyncssh.SFTPError):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, f"SFTP: {exc.reason}", retryable=False)
        if isinstance(exc, asyncssh.DisconnectError | asyncssh.ConnectionLost):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"SSH connection lost: {exc}")
        return categorize_common(exc)
