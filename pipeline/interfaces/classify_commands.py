"""``phi-pipeline classify [FILE|-]``: sensitive-category classification of JSONL notes outside Kafka.

Reads ``{"id", "text"}`` lines and writes ``{"id", "categories": [{"category", "score"}]}`` with the
categories at or above their thresholds, highest score first (an empty list for a note of none). Input
handling is ``detect``'s: a bad line stops the run with exit status 2 after the lines before it are
written, unless ``--skip-invalid``. Messages name files and line numbers, never note text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from pipeline.config import DEFAULT_SENSITIVE_MODEL
from pipeline.core.errors import PipelineError
from pipeline.core.sensitive import NoteClassifier, found_categories
from pipeline.interfaces.detect_commands import run_jsonl

_BATCH = 32


def register(subparsers: argparse._SubParsersAction) -> None:
    classify = subparsers.add_parser(
        "classify",
        help="sensitive categories (substance use, mental health, psychotherapy notes, HIV/STI, reproductive, "
        "genetic) of JSONL notes {id, text}",
    )
    classify.add_argument("input", nargs="?", default="-", help="JSONL file, or - for standard input (default)")
    classify.add_argument("-o", "--output", default="-", help="where to write JSONL (default standard output)")
    classify.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_SENSITIVE_MODEL,
        help="sensitive-category model folder (default: the model shipped with the package)",
    )
    classify.add_argument("--all-scores", action="store_true", help="also write every category's score")
    classify.add_argument(
        "--explain",
        action="store_true",
        help="also write the model's scores and the evidence found (vocabulary term ids, never text)",
    )
    classify.add_argument(
        "--model-only",
        action="store_true",
        help="the model's scores alone, without the evidence from vocabularies (for comparison only)",
    )
    classify.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip lines that are not UTF-8 JSON objects with a string 'text' (their numbers go to stderr)",
    )
    classify.add_argument("--provider", default="auto", help="auto, cpu, cuda or tensorrt (default auto)")
    classify.add_argument("--threads", type=int, help="intra-op threads for the model on CPU")
    classify.add_argument("--batch-size", type=int, default=_BATCH, help=f"notes per batch (default {_BATCH})")
    classify.set_defaults(func=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    from pipeline.runtime.sensitive_classifier import build_classifier

    try:
        classifier = build_classifier(
            args.model, provider=args.provider, threads=args.threads, evidence=not args.model_only
        )
    except PipelineError as exc:
        print(f"classify: {exc}", file=sys.stderr)
        return 2
    print(f"classify: classifier {classifier.describe()} from {args.model}", file=sys.stderr)
    explain = getattr(classifier, "explain", None) if args.explain else None
    return run_jsonl(
        args, "classify", lambda batch, sink: write_batch(classifier, batch, sink, args.all_scores, explain)
    )


def write_batch(
    classifier: NoteClassifier,
    batch: list[tuple[object, str]],
    sink: IO[str],
    all_scores: bool,
    explain: Callable[[str], dict[str, object]] | None = None,
) -> None:
    results = classifier.classify_batch([text for _, text in batch])
    for (record_id, text), scores in zip(batch, results, strict=True):
        found = found_categories(scores, classifier.thresholds)
        record: dict[str, object] = {
            "id": record_id,
            "categories": [{"category": c.value, "score": round(score, 4)} for c, score in found],
        }
        if all_scores:
            record["scores"] = {c.value: round(score, 4) for c, score in scores.items()}
        if explain is not None:
            record["explain"] = explain(text)
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
