"""``phi-pipeline``: one command line for the broker, the worker, producing, consuming and the demo.

Each subcommand lives in a module of its own with a ``register(subparsers)`` function; this module
only assembles them, sets up logging and turns configuration errors into one clear message and
exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pipeline import __version__
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.interfaces import demo, detect_commands, keys_commands, model_commands, ops_commands, stream_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phi-pipeline",
        description="Streaming PHI de-identification on Kafka. Settings come from PHI_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"phi-pipeline {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stream_commands.register(subparsers)
    demo.register(subparsers)
    keys_commands.register(subparsers)
    ops_commands.register(subparsers)
    detect_commands.register(subparsers)
    model_commands.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
