"""``phi-pipeline``: one command line for the broker, the worker, producing, consuming and the demo.

Each subcommand lives in a module of its own with a ``register(subparsers)`` function; this module
only assembles them, sets up logging and turns expected failures into one clear line on standard
error and a documented exit status (:data:`EXIT_CODES`), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pipeline import __version__
from pipeline.core.crypto.custody import KmsUnavailableError
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.interfaces import (
    classify_commands,
    demo,
    detect_commands,
    format_commands,
    keys_commands,
    label_commands,
    model_commands,
    ops_commands,
    reveal_commands,
    stream_commands,
    summarize_commands,
)
from pipeline.stream.admin import EXIT_BROKER_UNAVAILABLE, BrokerUnavailableError

EXIT_SEND_FAILED = 75  # pipeline.stream.app.EXIT_SEND_FAILED (not imported here: it loads faust)
EXIT_KMS_DENIED = 77  # pipeline.stream.custody_watch.EXIT_KMS_DENIED
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `head` leaves other tools with
EXIT_CODES = (
    (0, "success"),
    (1, "failed: a check found problems (consume --verify, audit verify) or another error, named on stderr"),
    (2, "wrong configuration, arguments or input (a missing keyring, schema or detector model included)"),
    (3, "reveal: the reveal service refused (outcome and reason on stderr; the attempt was audited)"),
    (
        EXIT_BROKER_UNAVAILABLE,
        "no Kafka broker answered within PHI_CONNECT_TIMEOUT, or OpenBao did not "
        "answer (worker: OpenBao sealed, or silent past PHI_CUSTODY_GRACE_SECONDS)",
    ),
    (EXIT_KMS_DENIED, "worker: OpenBao stopped letting it unwrap its keys (policy revoked); see the log"),
    (EXIT_SEND_FAILED, "worker: a batch's outputs could not be sent; restart it, the batch is processed again"),
    (130, "interrupted (Ctrl-C)"),
    (EXIT_BROKEN_PIPE, "standard output was closed early (for example piped into head)"),
)


def _exit_codes_text() -> str:
    return "exit status:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phi-pipeline",
        description="Streaming PHI de-identification on Kafka. Settings come from PHI_* environment variables.",
        epilog=_exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"phi-pipeline {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stream_commands.register(subparsers)
    demo.register(subparsers)
    keys_commands.register(subparsers)
    ops_commands.register(subparsers)
    reveal_commands.register(subparsers)
    detect_commands.register(subparsers)
    classify_commands.register(subparsers)
    summarize_commands.register(subparsers)
    model_commands.register(subparsers)
    format_commands.register(subparsers)
    label_commands.register(subparsers)
    for command in subparsers.choices.values():  # every command's --help ends with the same table
        if command.epilog is None:
            command.epilog = _exit_codes_text()
            command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor
        pass
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except stream_commands.InputFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except (BrokerUnavailableError, KmsUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BROKER_UNAVAILABLE
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
