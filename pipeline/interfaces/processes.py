"""Worker child processes: how the demo, the tests and the benchmarks start and stop real workers.

A worker is always the same ``phi-pipeline worker`` a deployment runs, configured only through its
``PHI_*`` environment, so what is tested is what ships.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pipeline.config import Settings, settings_to_env

WORKER_COMMAND = (sys.executable, "-m", "pipeline.interfaces.cli", "worker")


def spawn_worker(
    settings: Settings, log_path: Path, *, extra_env: Mapping[str, str] | None = None, agents: str | None = None
) -> subprocess.Popen[bytes]:
    """Start a worker whose output goes to ``log_path`` (appended)."""
    env = {**os.environ, **settings_to_env(settings), **(extra_env or {})}
    command = [*WORKER_COMMAND, *(["--agents", agents] if agents else [])]
    with log_path.open("ab") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM (faust commits and leaves the group), then SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
