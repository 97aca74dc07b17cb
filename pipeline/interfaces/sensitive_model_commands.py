"""``phi-pipeline model build-sensitive`` and ``model evaluate-sensitive``: the reproducible build of the
sensitive-category classifier, and a fresh measurement of the shipped one from its build folder.

Registered under ``phi-pipeline model`` by :mod:`pipeline.interfaces.model_commands`. torch, transformers and
optimum are imported only when a command runs. Exit codes: 0 built, 2 bad options, a missing dependency or
a missing build folder.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from pipeline.interfaces.extras import models_extra_missing

DEFAULT_OUT = Path("models/sensitive")
DEFAULT_HEAD = Path("models/detector")
DEFAULT_BUILD = Path("models/build/sensitive")


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser(
        "build-sensitive",
        help="generate the labelled synthetic corpus, fine-tune the sensitive-category classifier, export, "
        "quantize (static int8), choose thresholds for recall, evaluate, write the model card",
    )
    _common(build)
    build.add_argument("--seed", type=int, default=13, help="seed of the corpus and the training (default 13)")
    build.add_argument("--train-notes", type=int, default=None, help="synthetic training notes (default 2400)")
    build.add_argument("--epochs", type=float, default=None, help="training epochs (default 1.5)")
    build.add_argument("--max-minutes", type=float, default=None, help="stop training after this long (default 38)")
    build.add_argument("--quick", action="store_true", help="a tiny smoke build in a few minutes (not for shipping)")
    build.add_argument(
        "--reuse-first-stage",
        action="store_true",
        help="take the first training stage's weights from an earlier run of the same build in --build-dir",
    )
    build.set_defaults(func=run_build)
    evaluate = sub.add_parser(
        "evaluate-sensitive",
        help="choose the thresholds again and re-measure the shipped classifier (development, test and hand-written "
        "sets); rewrites thresholds.json, report.json and MODEL_CARD.md",
    )
    _common(evaluate)
    evaluate.set_defaults(func=run_evaluate)
    real = sub.add_parser(
        "evaluate-sensitive-real",
        help="the shipped classifier on real notes: the hand-labelled development-half notes and the hand-written "
        "set, model alone and with evidence; share of the development half flagged; flags with no screen term",
    )
    real.add_argument("--model", type=Path, default=DEFAULT_HEAD, help=f"model folder (default {DEFAULT_HEAD}: the "
                      "category head beside the detector; a folder built by build-sensitive works too)")  # fmt: skip
    real.add_argument("--notes", type=Path, default=None, help="development-half notes.jsonl (default ../shared/data)")
    real.add_argument("--labels", type=Path, default=None, help="labels (default models/sensitive_eval/...)")
    real.add_argument("--out", type=Path, default=None, help="write the JSON report here as well")
    real.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    real.set_defaults(func=run_evaluate_real)
    head = sub.add_parser(
        "build-category-head",
        help="the sensitive-category head on the detector's encoder: add the hidden-state output to the detector "
        "graph (token logits unchanged), train the head on the frozen trunk's features of the synthetic corpus, "
        "choose thresholds for recall, write category_head.npz/.json beside the detector",
    )
    head.add_argument("--detector", type=Path, default=DEFAULT_HEAD, help="detector folder (default "
                      "models/detector); its model file gains one output, the head's files go beside it")  # fmt: skip
    head.add_argument("--train-notes", type=int, default=7200, help="synthetic training notes (default 7200)")
    head.add_argument("--seed", type=int, default=13, help="seed of the corpus and the training (default 13)")
    head.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    head.set_defaults(func=run_build_head)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"shipped model folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=DEFAULT_BUILD,
        help=f"intermediate files, git-ignored (default {DEFAULT_BUILD})",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def _plan(args: argparse.Namespace) -> object:
    from pipeline.modelbuild.sensitive.build import SensitivePlan

    seed = getattr(args, "seed", 13)
    if getattr(args, "quick", False):
        plan = SensitivePlan.quick(args.out, args.build_dir, seed)
    else:
        plan = SensitivePlan(out_dir=args.out, build_dir=args.build_dir)
        plan = replace(plan, settings=replace(plan.settings, seed=seed))
    settings = replace(plan.settings, threads=args.threads)
    if getattr(args, "epochs", None) is not None:
        settings = replace(settings, epochs=args.epochs)
    if getattr(args, "max_minutes", None) is not None:
        settings = replace(settings, max_minutes=args.max_minutes)
    plan = replace(plan, settings=settings)
    if getattr(args, "train_notes", None) is not None:
        plan = replace(plan, train_notes=args.train_notes)
    return plan


def run_build(args: argparse.Namespace) -> int:
    if args.threads < 1 or (args.epochs is not None and args.epochs <= 0):
        print("model build-sensitive: --threads must be at least 1 and --epochs positive", file=sys.stderr)
        return 2
    try:
        import torch

        torch.set_num_threads(args.threads)
        from pipeline.modelbuild.sensitive.build import build
    except ImportError as exc:
        return models_extra_missing("model build-sensitive", exc)
    build(_plan(args), progress=lambda line: print(line, flush=True), reuse_first_stage=args.reuse_first_stage)  # type: ignore[arg-type]
    print(f"report: {args.out / 'report.json'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from pipeline.modelbuild.sensitive.build import evaluate

    plan = _plan(args)
    for needed in (args.out / "report.json", args.build_dir / "onnx-fp32" / "model.onnx"):
        if not needed.exists():
            print(
                f"model evaluate-sensitive: {needed} is missing; run 'phi-pipeline model build-sensitive'",
                file=sys.stderr,
            )
            return 2
    evaluate(plan, progress=lambda line: print(line, flush=True))  # type: ignore[arg-type]
    print(f"report: {args.out / 'report.json'}")
    return 0


def run_evaluate_real(args: argparse.Namespace) -> int:
    import json

    from pipeline.modelbuild.sensitive import realnotes
    from pipeline.runtime.sensitive_classifier import build_classifier

    notes_path = args.notes or realnotes.NOTES
    if not notes_path.exists():
        print(f"model evaluate-sensitive-real: {notes_path} is missing (the shared development half)", file=sys.stderr)
        return 2
    model = build_classifier(args.model, provider="cpu", threads=args.threads, evidence=False)
    report = realnotes.evaluate_real(
        model,
        realnotes.read_notes(notes_path),
        realnotes.read_labels(args.labels or realnotes.LABELS),
        realnotes.read_handwritten(),
    )
    print("\n".join(realnotes.summary(report)))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"report: {args.out}")
    return 0


def run_build_head(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return models_extra_missing("model build-category-head", exc)
    if args.threads < 1 or args.train_notes < 1 or not args.detector.is_dir():
        print("model build-category-head: --detector must be a folder, --threads and --train-notes positive",
              file=sys.stderr)  # fmt: skip
        return 2
    from pipeline.modelbuild.sensitive.head import HeadPlan, build_head

    plan = HeadPlan(detector=args.detector, train_notes=args.train_notes, seed=args.seed, threads=args.threads)
    config = build_head(plan, progress=lambda line: print(line, flush=True))
    print(f"thresholds: {config['thresholds']['values']}")
    print(f"head: {args.detector / 'category_head.json'}")
    return 0
