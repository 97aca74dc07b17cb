"""Run the ``phi-pipeline`` command line in a child process, configured like a test's worker."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline.config import Settings, settings_to_env


def run_cli(settings: Settings, *args: str, stdin: str = "", timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``phi-pipeline ARGS`` in a child process with ``settings`` as its environment."""
    env = {**os.environ, **settings_to_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.interfaces.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
