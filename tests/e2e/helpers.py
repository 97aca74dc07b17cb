"""Run real workers as child processes and read back everything they wrote."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import Settings, settings_to_env
from pipeline.core.schemas import SchemaRegistry
from pipeline.devtools.inputs import SignedInput
from pipeline.interfaces.processes import spawn_worker, stop_process
from pipeline.stream.clients import Consumed, Outgoing, consume, input_message_id, produce


@contextmanager
def worker_process(settings: Settings, log_path: Path, **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``phi-pipeline worker`` in a child process, stopped (SIGTERM, then SIGKILL) on exit."""
    process = spawn_worker(settings, log_path, extra_env=extra_env)
    try:
        yield process
    finally:
        stop_process(process)


def send(settings: Settings, inputs: list[SignedInput]) -> int:
    return asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(i.key, i.value, i.headers) for i in inputs]))


@functools.cache
def _registry() -> SchemaRegistry:
    return SchemaRegistry.load(Path(__file__).resolve().parents[2] / "schemas")


def message_id(message: Consumed) -> str:
    """The input an output answers for (for a message that failed verification: the id it claimed)."""
    return input_message_id(_registry(), message, message.topic if message.topic.endswith("deadletter") else "")


def read_outputs(settings: Settings, expected: set[str], timeout: float, audit_events: int = 0) -> list[Consumed]:
    """Read redacted, restricted, dead-letter and audit topics until every expected id has a record or a dead
    letter, and at least ``audit_events`` audit events have arrived (they are sent beside the outputs, not before)."""
    outputs = {settings.topic_redacted, settings.topic_restricted, settings.topic_deadletter}

    def complete(found: list[Consumed]) -> bool:
        audits = sum(1 for m in found if m.topic == settings.topic_audit)
        return audits >= audit_events and {message_id(m) for m in found if m.topic in outputs} >= expected

    return asyncio.run(
        consume(
            settings,
            [settings.topic_redacted, settings.topic_restricted, settings.topic_deadletter, settings.topic_audit],
            until=complete,
            timeout=timeout,
        )
    )


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no worker log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start_reveal_server(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """``phi-pipeline reveal-server`` in a child process, returned once it says it is ready."""
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "pipeline.interfaces.cli", "reveal-server"],
            env={**os.environ, **settings_to_env(settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "reveal service ready" not in log_path.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"the reveal service did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return server
