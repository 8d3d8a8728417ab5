"""TLS for the adapter tests: a throwaway CA and a server certificate for 127.0.0.1 and
localhost (made here with `cryptography`, never stored), server-side SSL contexts, and a TLS
terminator that puts any plain local server (moto, a broker) behind TLS, the way stunnel or
a load balancer would.

Servers are capped at TLS 1.2 where they can be (`TLS12_ONLY`), so one server answers every
case of the TLS matrix: verified with the CA, refused without it, accepted unverified, and
refused when the connection demands TLS 1.3.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS12_ONLY = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True)
class TlsFiles:
    ca_pem: str  # the CA certificate, as a credential's tls_ca_bundle
    ca_path: Path
    cert_pem: bytes
    key_pem: bytes
    cert_path: Path
    key_path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls(directory: Path) -> TlsFiles:
    """A CA and a server certificate it signed (SAN: 127.0.0.1, ::1, localhost), as files."""
    now = datetime.datetime.now(datetime.UTC)
    valid = {
        "not_valid_before": now - datetime.timedelta(minutes=5),
        "not_valid_after": now + datetime.timedelta(days=2),
    }
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder(**valid)
        .subject_name(_name("Switchyard test CA"))
        .issuer_name(_name("Switchyard test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder(**valid)
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in ("ca.pem", "server.pem", "server.key")}
    paths["ca.pem"].write_bytes(ca_pem)
    paths["server.pem"].write_bytes(cert_pem)
    paths["server.key"].write_bytes(key_pem)
    paths["server.key"].chmod(0o600)
    return TlsFiles(
        ca_pem=ca_pem.decode(),
        ca_path=paths["ca.pem"],
        cert_pem=cert_pem,
        key_pem=key_pem,
        cert_path=paths["server.pem"],
        key_path=paths["server.key"],
    )


def server_context(
    tls: TlsFiles, *, max_version: ssl.TLSVersion | None = TLS12_ONLY, alpn=()
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_path, tls.key_path)
    if max_version is not None:
        context.maximum_version = max_version
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


class TlsTerminator:
    """TLS on 127.0.0.1:`port`, plain bytes to 127.0.0.1:`backend_port`: one thread pair per
    connection. A client whose handshake fails is dropped; the backend never sees it."""

    def __init__(self, backend_port: int, context: ssl.SSLContext):
        self.backend_port = backend_port
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0  # connections accepted, whatever their handshake did
        self.handshakes_failed = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            with self._lock:
                self.handshakes_failed += 1
            raw.close()
            return
        client.settimeout(None)
        try:
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=10)
        except OSError:
            client.close()
            return
        backend.settimeout(None)
        with self._lock:
            self._open += [client, backend]
        threading.Thread(target=self._pump, args=(backend, client), daemon=True).start()
        self._pump(client, backend)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        with self._lock:
            for sock in self._open:
                try:
                    sock.close()
                except OSError:
                    pass


# ------------------------------------------------------------- brokers with their own TLS


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


class BrokerProcess:
    """A private broker process started for the tests (no root needed), stopped by `close`."""

    def __init__(self, argv: list[str], port: int, log: Path, *, ready_s: float = 10):
        import subprocess
        import time

        self.port = port
        self.log = log
        self.process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError(f"{argv[0]} did not listen on {port}: {log.read_text()[-2000:]}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except Exception:  # noqa: BLE001 - a broker that ignores SIGTERM is killed
            self.process.kill()
            self.process.wait(5)


def redis_tls_server(tls: TlsFiles, directory: Path) -> BrokerProcess:
    """Debian's redis-server (built with TLS) on a TLS-only port, TLS 1.2 only."""
    port = free_port()
    argv = [
        "redis-server",
        "--port", "0",
        "--bind", "127.0.0.1",
        "--tls-port", str(port),
        "--tls-cert-file", str(tls.cert_path),
        "--tls-key-file", str(tls.key_path),
        "--tls-ca-cert-file", str(tls.ca_path),
        "--tls-auth-clients", "no",
        "--tls-protocols", "TLSv1.2",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
    ]  # fmt: skip
    return BrokerProcess(argv, port, directory / "redis.log")


def mosquitto_tls_server(tls: TlsFiles, directory: Path) -> BrokerProcess:
    """A private mosquitto with one TLS listener, anonymous clients allowed. Its
    `tls_version` is a minimum (mosquitto 2.0), so it speaks TLS 1.3 too: a TLS 1.2 cap
    needs a TlsTerminator in front of a plain listener."""
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(
        "per_listener_settings false\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stdout\n"
        "user root\n"
        f"listener {port} 127.0.0.1\n"
        f"cafile {tls.ca_path}\n"
        f"certfile {tls.cert_path}\n"
        f"keyfile {tls.key_path}\n"
    )
    return BrokerProcess(["mosquitto", "-c", str(conf)], port, directory / "mosquitto.log")


def nats_tls_server(tls: TlsFiles, directory: Path) -> BrokerProcess:
    """A private nats-server requiring TLS. It cannot be capped at TLS 1.2 (Go's TLS has no
    maximum setting in nats-server 2.9), so it speaks TLS 1.3 too."""
    port = free_port()
    conf = directory / "nats.conf"
    conf.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f'tls {{\n  cert_file: "{tls.cert_path}"\n  key_file: "{tls.key_path}"\n  timeout: 2\n}}\n'
    )
    return BrokerProcess(["nats-server", "-c", str(conf)], port, directory / "nats.log")


# ------------------------------------------------------------- databases with their own TLS


class DatabaseProcess(BrokerProcess):
    """A private database server (mariadbd, postgres) on `port` with its data under a temp
    directory; `close` stops it and removes that directory."""

    def __init__(self, argv: list[str], port: int, log: Path, directory: Path, *, ready_s: float = 20):
        self.directory = directory
        super().__init__(argv, port, log, ready_s=ready_s)

    def close(self) -> None:
        import shutil

        try:
            super().close()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _run(argv: list[str], log: Path) -> None:
    import subprocess

    with log.open("ab") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
    if done.returncode:
        raise RuntimeError(f"{argv[0]} failed: {log.read_text()[-2000:]}")


def mariadb_tls_server(tls: TlsFiles, directory: Path) -> DatabaseProcess:
    """A private mariadbd (own datadir, socket and port) with TLS, TLS 1.2 only. Plain
    connections are still accepted, as in a default install; root over the socket only."""
    import os

    data = directory / "data"
    log = directory / "mariadb.log"
    user = ["--user=root"] if os.geteuid() == 0 else []
    _run(
        [
            "mariadb-install-db", "--no-defaults", f"--datadir={data}", *user,
            "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
        ],
        log,
    )  # fmt: skip
    port = free_port()
    argv = [
        "mariadbd", "--no-defaults", f"--datadir={data}", *user,
        "--bind-address=127.0.0.1", f"--port={port}", f"--socket={directory / 'mysqld.sock'}",
        f"--pid-file={directory / 'mysqld.pid'}", "--skip-name-resolve", "--skip-log-bin",
        f"--ssl-cert={tls.cert_path}", f"--ssl-key={tls.key_path}", f"--ssl-ca={tls.ca_path}",
        "--tls-version=TLSv1.2", "--innodb-buffer-pool-size=16M", "--performance-schema=OFF",
    ]  # fmt: skip
    return DatabaseProcess(argv, port, log, directory)


def postgres_tls_server(tls: TlsFiles) -> DatabaseProcess:
    """A private PostgreSQL 15 with TLS capped at TLS 1.2, trusting `hostssl` connections from
    127.0.0.1 and refusing plain ones. initdb refuses to run as root, so when the tests run as
    root (as in CI) the cluster belongs to the `postgres` OS user (`runuser`)."""
    import os
    import pwd
    import shutil
    import tempfile

    bin_dir = Path("/usr/lib/postgresql/15/bin")
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's tmp dir: that one is private to root, and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="switchyard-pg-tls-"))
    try:
        for name, source in (("server.pem", tls.cert_path), ("server.key", tls.key_path)):
            shutil.copyfile(source, directory / name)
        (directory / "server.key").chmod(0o600)
        if as_postgres:
            for path in (directory, directory / "server.pem", directory / "server.key"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        data = directory / "data"
        log = directory / "postgres.log"
        _run(
            [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            log,
        )  # fmt: skip
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n"
        )
        port = free_port()
        argv = [
            *as_postgres, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={directory}",
            "-c", "ssl=on", "-c", f"ssl_cert_file={directory / 'server.pem'}",
            "-c", f"ssl_key_file={directory / 'server.key'}",
            "-c", "ssl_max_protocol_version=TLSv1.2", "-c", "fsync=off", "-c", "shared_buffers=16MB",
            "-c", "log_connections=on",
        ]  # fmt: skip
        return DatabaseProcess(argv, port, log, directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
