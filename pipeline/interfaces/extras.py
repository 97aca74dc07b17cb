"""The one message a command gives when it needs the ``models`` extra (torch, transformers, optimum, onnx)
and the machine has only the worker's dependencies."""

from __future__ import annotations

import sys

MODELS_EXTRA_HINT = "needs the models extra (pip install -e '.[models]')"


def models_extra_missing(command: str, exc: ImportError) -> int:
    """Say which command needs the extra and what was missing; the exit status to return (2)."""
    print(f"{command} {MODELS_EXTRA_HINT}: {exc}", file=sys.stderr)
    return 2
