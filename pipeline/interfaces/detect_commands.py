"""The ``detect`` and ``eval`` subcommands: batch detection over JSONL, and evaluation on labelled corpora.

Registered into the main CLI by :func:`register`; each handler returns a process exit code
(0 ok, 2 bad input or configuration). Messages name files and line numbers, never record text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from pipeline.config import DEFAULT_DETECTOR
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.deidentify import Deidentifier
from pipeline.core.detection import TextDetector
from pipeline.core.detection.base import Detector
from pipeline.core.errors import PipelineError

_BATCH = 64
#: ``eval --format`` choices: :data:`pipeline.modelbuild.evaluation.FORMATS`, spelled out here so that
#: registering the command does not load the evaluation package into the worker (a test keeps the two equal).
CORPUS_FORMATS = ("jsonl", "brat", "i2b2", "presidio")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``detect`` and ``eval`` to the CLI's subparsers."""
    detect = subparsers.add_parser("detect", help="find PHI spans in JSONL records {id, text}")
    detect.add_argument("input", nargs="?", default="-", help="JSONL file, or - for standard input (default)")
    detect.add_argument("-o", "--output", default="-", help="where to write JSONL (default standard output)")
    detect.add_argument("--redact", action="store_true", help="write the de-identified text (placeholders)")
    detect.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip lines that are not UTF-8 JSON objects with a string 'text' (their numbers go to stderr) "
        "instead of stopping at the first one with exit status 2",
    )
    model_options(detect)
    _policy_option(detect)
    detect.set_defaults(func=run_detect)

    evaluate = subparsers.add_parser("eval", help="precision/recall/F1 per PHI type on a labelled corpus")
    evaluate.add_argument("--corpus", required=True, type=Path, help="corpus file or folder")
    evaluate.add_argument("--format", required=True, choices=CORPUS_FORMATS, dest="corpus_format")
    evaluate.add_argument("--missed", type=Path, help="write missed gold spans (JSONL, with text) here")
    evaluate.add_argument("--json", type=Path, dest="json_out", help="write all figures as JSON here")
    evaluate.add_argument(
        "--sample", type=int, metavar="K", help="evaluate every K-th document only (a sample spread over the corpus)"
    )
    evaluate.add_argument("--limit", type=int, help="evaluate the first N documents only")
    model_options(evaluate)
    _policy_option(evaluate)
    evaluate.set_defaults(func=run_eval)


def model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_DETECTOR,
        help="token-classification model folder (default: the model shipped with the package); a missing or "
        "unreadable model is an error (exit status 2), never a silent fall-back to rules",
    )
    group.add_argument(
        "--rules-only", dest="model", action="store_const", const=None, help="no model, on purpose: rules only"
    )
    parser.add_argument("--provider", default="auto", help="auto, cpu, cuda or tensorrt (default auto)")
    parser.add_argument("--threads", type=int, help="intra-op threads for the model on CPU")
    parser.add_argument("--batch-size", type=int, default=_BATCH, help=f"texts per batch (default {_BATCH})")


def _policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy", type=Path, help="policy file whose deny list, allow list and recognizers apply (a site policy)"
    )


def _with_policy(detector: TextDetector, path: Path | None) -> TextDetector:
    """``detector`` with the policy file's deny and allow lists and recognizers, when one is given."""
    if path is None:
        return detector
    from pipeline.core.policy import load_policy
    from pipeline.core.policy.detector import PolicyDetector

    return PolicyDetector(detector, load_policy(path))  # type: ignore[arg-type]


def build_detector_from_args(args: argparse.Namespace) -> Detector:
    """The detector ``--model``/``--rules-only``, ``--provider`` and ``--threads`` ask for."""
    from pipeline.runtime.detectors import build_detector

    return build_detector(args.model, provider=args.provider, threads=args.threads)


class InvalidLine(PipelineError, ValueError):
    """A ``detect`` input line that is not a UTF-8 JSON object with a string ``text``; says why, never the content."""

    def __init__(self, source: str, number: int, why: str) -> None:
        super().__init__(f"{source} line {number}: {why}")
        self.number = number


def _parse_line(raw: bytes, source: str, number: int) -> tuple[object, str]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidLine(
            source, number, f"not UTF-8 (byte {exc.start} of the line); convert the file, e.g. iconv -f latin1 -t utf-8"
        ) from None
    try:
        record = json.loads(line)
        text = record["text"]
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError):
        raise InvalidLine(source, number, "expected a JSON object with 'id' and 'text'") from None
    if not isinstance(text, str):
        raise InvalidLine(source, number, "'text' must be a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidLine(source, number, "'text' holds a lone UTF-16 surrogate (such as \\ud800)") from None
    record_id = record.get("id", number)
    try:
        json.dumps(record_id, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        raise InvalidLine(source, number, "'id' cannot be written back as UTF-8 JSON") from None
    return record_id, text


def _records(handle: IO[bytes], source: str, skipped: list[int] | None) -> Iterator[tuple[object, str]]:
    """(id, text) per non-blank line. An invalid line raises :class:`InvalidLine`, or is recorded in
    ``skipped`` (its line number) and passed over when a list is given."""
    for number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            yield _parse_line(raw, source, number)
        except InvalidLine:
            if skipped is None:
                raise
            skipped.append(number)


def _skipped_report(skipped: list[int], command: str = "detect", shown: int = 20) -> str:
    numbers = ", ".join(str(n) for n in skipped[:shown])
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f"{command}: skipped {len(skipped)} invalid line{'s' if len(skipped) != 1 else ''}: {numbers}{more}"


WriteBatch = Callable[[list[tuple[object, str]], IO[str]], None]


def run_detect(args: argparse.Namespace) -> int:
    """Stream records through the detector in batches and write one JSON line per record.

    A bad line stops the run with exit status 2 after the lines before it are written, unless
    ``--skip-invalid`` passes over it and reports its number on stderr.
    """
    try:
        detector = _with_policy(build_detector_from_args(args), args.policy)
    except PipelineError as exc:
        print(f"detect: {exc}", file=sys.stderr)
        return 2
    print(f"detect: detector {_detector_name(detector, args.model)}", file=sys.stderr)
    # The shipped policy (placeholders) under a throwaway keyring: nothing is tokenized or kept.
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=detector)
    return run_jsonl(args, "detect", lambda batch, sink: _write_batch(deidentifier, batch, sink, args.redact))


def run_jsonl(args: argparse.Namespace, command: str, write_batch: WriteBatch) -> int:
    """Read JSONL ``{"id", "text"}`` records from ``args.input`` in batches of ``args.batch_size`` and let
    ``write_batch`` write one line per record to ``args.output``; a bad line stops the run (exit status 2,
    the lines before it written) unless ``args.skip_invalid``, which reports its number on stderr instead."""
    try:
        source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
        sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    except OSError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    skipped: list[int] | None = [] if args.skip_invalid else None
    batch: list[tuple[object, str]] = []
    try:
        for record in _records(source, "standard input" if args.input == "-" else args.input, skipped):
            batch.append(record)
            if len(batch) >= args.batch_size:
                write_batch(batch, sink)
                batch = []
        if batch:
            write_batch(batch, sink)
    except InvalidLine as exc:
        if batch:  # everything before the bad line is written
            write_batch(batch, sink)
        print(f"{command}: {exc}; stopped there (--skip-invalid skips such lines)", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        if sink is not sys.stdout:
            sink.close()
    if skipped:
        print(_skipped_report(skipped, command), file=sys.stderr)
    return 0


def _detector_name(detector: TextDetector, model: Path | None) -> str:
    from pipeline.runtime.detectors import describe_detector

    name = describe_detector(detector)
    return f"{name} (--rules-only)" if model is None else f"rules + {name} from {model}"


def _write_batch(deidentifier: Deidentifier, batch: list[tuple[object, str]], sink: IO[str], redact: bool) -> None:
    texts = [text for _, text in batch]
    if redact:
        for (record_id, _), done in zip(batch, deidentifier.texts(texts), strict=True):
            spans = [t for t in done.transformations if t.start is not None and t.end is not None]
            record: dict[str, object] = {
                "id": record_id,
                "text": done.content,
                "spans": [{"start": t.start, "end": t.end, "type": t.phi_type, "action": t.action} for t in spans],
            }
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    for (record_id, _), found in zip(batch, deidentifier.detect(texts), strict=True):
        record = {
            "id": record_id,
            "spans": [{"start": s.start, "end": s.end, "type": s.type.value, "score": s.score} for s in found],
        }
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_eval(args: argparse.Namespace) -> int:
    """Load the corpus, detect, score, print the table; optionally write JSON figures and missed spans."""
    from pipeline.modelbuild.evaluation import format_table, load_corpus, score_corpus, write_missed

    try:
        docs = load_corpus(args.corpus, args.corpus_format)
        if args.sample is not None and args.sample > 1:
            docs = docs[:: args.sample]
        if args.limit is not None:
            docs = docs[: args.limit]
        detector = _with_policy(build_detector_from_args(args), args.policy)
    except (PipelineError, OSError) as exc:  # CorpusError is a PipelineError
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    texts = [doc.text for doc in docs]
    predictions = []
    for first in range(0, len(texts), args.batch_size):
        predictions.extend(detector.detect_batch(texts[first : first + args.batch_size]))
    elapsed = time.perf_counter() - started
    scores = score_corpus(docs, predictions)
    print(
        f"corpus: {args.corpus} ({args.corpus_format}), {len(docs)} documents, detector: "
        f"{'rules + ' + str(args.model) if args.model else 'rules only'}, {elapsed:.2f} s"
    )
    print(format_table(scores))
    if args.missed is not None:
        count = write_missed(args.missed, scores, docs)
        print(f"missed spans: {count} written to {args.missed} (contains corpus text: synthetic/authorized data only)")
    if args.json_out is not None:
        payload = {
            "corpus": str(args.corpus),
            "format": args.corpus_format,
            "model": str(args.model) if args.model else None,
            "seconds": round(elapsed, 3),
            **scores.as_dict(),
        }
        args.json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0
