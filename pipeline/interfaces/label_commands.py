"""``phi-pipeline label export`` and ``label import``: labelling a site's notes in Label Studio.

``export`` runs the detector over JSONL notes ``{id, text}`` and writes Label Studio tasks with its spans
as predictions (and the matching labelling interface), so labellers correct rather than start from
nothing; ``import`` reads Label Studio's JSON or JSON-MIN export back into the corpus format that
``eval`` and ``model adapt`` read. Both files hold the notes' text: they are written readable by their
owner only. Errors name files, lines, tasks and results, never text (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO

from pipeline.core.errors import PipelineError


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.interfaces.detect_commands import _policy_option, model_options

    label = subparsers.add_parser("label", help="Label Studio: export pre-annotated notes, import finished labels")
    sub = label.add_subparsers(dest="label_command", required=True, metavar="{export,import}")
    export = sub.add_parser("export", help="JSONL notes {id, text} -> Label Studio tasks with the detector's spans")
    export.add_argument("input", type=Path, help="JSONL notes {id, text} (spans, if any, are ignored)")
    export.add_argument("-o", "--output", type=Path, required=True, help="Label Studio tasks (JSON) to write")
    export.add_argument("--config-out", type=Path, help="also write the labelling interface (XML) here")
    model_options(export)
    _policy_option(export)
    export.set_defaults(func=run_export)

    imported = sub.add_parser("import", help="Label Studio JSON or JSON-MIN export -> corpus JSONL {id, text, spans}")
    imported.add_argument("input", type=Path, help="Label Studio export (JSON or JSON-MIN)")
    imported.add_argument("-o", "--output", type=Path, required=True, help="corpus JSONL to write")
    imported.add_argument("--from-name", default="label", help="the Labels control's name (default label)")
    imported.add_argument("--text-field", default="text", help="the task data field holding the note (default text)")
    imported.set_defaults(func=run_import)


def _private(path: Path) -> IO[str]:
    """A text file only its owner can read (it holds notes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


def run_export(args: argparse.Namespace) -> int:
    from pipeline.interfaces.detect_commands import _detector_name, _parse_line, _with_policy, build_detector_from_args
    from pipeline.modelbuild.labelling import label_config, task

    try:
        raw_lines = args.input.read_bytes().splitlines()
        records = [_parse_line(raw, args.input.name, n) for n, raw in enumerate(raw_lines, start=1) if raw.strip()]
        detector = _with_policy(build_detector_from_args(args), args.policy)
    except (OSError, PipelineError) as exc:
        print(f"label export: {exc}", file=sys.stderr)
        return 2
    version = _detector_name(detector, args.model)
    tasks = []
    for first in range(0, len(records), args.batch_size):
        batch = records[first : first + args.batch_size]
        for (note_id, text), spans in zip(batch, detector.detect_batch([t for _, t in batch]), strict=True):
            tasks.append(task(note_id, text, spans, version))
    with _private(args.output) as sink:
        json.dump(tasks, sink, ensure_ascii=False, indent=1)
    if args.config_out is not None:
        args.config_out.write_text(label_config(), encoding="utf-8")
    spans = sum(len(t["predictions"][0]["result"]) for t in tasks)
    print(f"label export: {len(tasks)} tasks, {spans} predicted spans -> {args.output}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from pipeline.modelbuild.labelling import corpus_lines, read_export

    try:
        payload = json.loads(args.input.read_text(encoding="utf-8"))
        imported = read_export(payload, args.from_name, args.text_field)
    except json.JSONDecodeError as exc:
        print(f"label import: {args.input.name}: not JSON (line {exc.lineno})", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, PipelineError) as exc:
        print(f"label import: {args.input.name}: {exc}", file=sys.stderr)
        return 2
    with _private(args.output) as sink:
        sink.writelines(corpus_lines(imported.notes))
    spans = sum(len(n["spans"]) for n in imported.notes)
    skipped = (
        f"; {len(imported.unlabelled)} tasks without a finished annotation left out" if imported.unlabelled else ""
    )
    print(f"label import: {len(imported.notes)} notes, {spans} spans -> {args.output}{skipped}", file=sys.stderr)
    return 0
