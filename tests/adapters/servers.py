"""Real file-transfer servers on 127.0.0.1 and free ports: SFTP (asyncssh), FTP (pyftpdlib)
and S3 (moto in server mode). Each runs in its own thread and is stopped by its fixture."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "tester", "Tr4nsfer-pw-91"


@dataclass
class FileServer:
    url: str
    root: Path | None = None
    extra: dict | None = None


class SftpServer:
    def __init__(self, root: Path):
        import asyncssh

        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username):
                return True

            def password_auth_supported(self):
                return True

            def validate_password(self, username, password):
                return username == USER and password == PASSWORD

        async def listen():
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[self.host_key],
                server_factory=Server,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root)),
            )

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def public_host_key(self) -> str:
        return self.host_key.export_public_key().decode().strip()

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class FtpServer:
    def __init__(self, root: Path, tls=None):
        """Plain FTP, or with `tls` (a tests.adapters.tls.TlsFiles) explicit FTPS, TLS 1.2 at
        most, required on the control and data connections."""
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
        if tls is not None:
            from OpenSSL import SSL
            from pyftpdlib.handlers import TLS_FTPHandler

            context = SSL.Context(SSL.TLS_SERVER_METHOD)
            context.use_certificate_chain_file(str(tls.cert_path))
            context.use_privatekey_file(str(tls.key_path))
            context.set_max_proto_version(SSL.TLS1_2_VERSION)
            handler = type(
                "TlsHandler",
                (TLS_FTPHandler,),
                {
                    "authorizer": authorizer,
                    "ssl_context": context,
                    "tls_control_required": True,
                    "tls_data_required": True,
                },
            )
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close_all()
        self.thread.join(5)


class S3Server:
    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, self.port = self.server.get_host_and_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="s3-secret-key-Zz",
        )

    def close(self):
        self.server.stop()
