"""``phi-pipeline model adapt`` and ``model adapt-curve``: the shipped detector adapted to a site's notes.

Registered under ``phi-pipeline model`` by :mod:`pipeline.interfaces.model_commands`. Options are checked
and the corpus is read before torch is imported, so a wrong option or a bad corpus costs one line on
stderr and exit status 2, with or without the ``models`` extra.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

from pipeline.config import DEFAULT_DETECTOR
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.interfaces.extras import MODELS_EXTRA_HINT


def register(sub: argparse._SubParsersAction) -> None:
    adapt = sub.add_parser(
        "adapt",
        help="fine-tune the shipped detector on a site's labelled notes (with synthetic replay), calibrate on "
        "held-out patients, mine a site lexicon into a policy file, write a card",
    )
    _common(adapt)
    adapt.add_argument("--out", type=Path, required=True, help="folder for the adapted model (not the base's)")
    adapt.add_argument("--build-dir", type=Path, help="keep intermediate files here (default: a temporary folder)")
    adapt.add_argument("--curve", type=Path, help="a learning_curve.json from 'model adapt-curve' to put in the card")
    adapt.set_defaults(func=run_adapt)

    curve = sub.add_parser(
        "adapt-curve",
        help="the learning curve of 'model adapt': adapt on N notes per fold, score held-out patients "
        "(cross-validation by patient)",
    )
    _common(curve)
    curve.add_argument("--out", type=Path, required=True, help="folder for learning_curve.json and .png")
    curve.add_argument("--sizes", default="100,300,all", help="training notes per run, 'all' for a whole fold")
    curve.add_argument("--folds", type=int, default=3, help="folds of patients (default 3)")
    curve.add_argument("--keep-models", action="store_true", help="keep every adapted model under --out")
    curve.add_argument("--jobs", type=int, default=1, help="folds run at once, one process each (default 1)")
    curve.set_defaults(func=run_curve)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, required=True, help="labelled notes: JSONL {id, text, spans}")
    parser.add_argument("--base", type=Path, default=DEFAULT_DETECTOR, help="detector to start from (default shipped)")
    parser.add_argument("--type-map", type=Path, help="JSON {site label: PHI type or null}, over the default map")
    parser.add_argument("--epochs", type=float, help="training epochs (default 2)")
    parser.add_argument("--learning-rate", type=float, help="peak learning rate (default 5e-5)")
    parser.add_argument("--replay", type=float, help="synthetic windows per site window (default 0.5)")
    parser.add_argument("--frozen-layers", type=int, help="bottom encoder layers kept as the base's, with the "
                        "embeddings (default 2; -1 trains everything)")  # fmt: skip
    parser.add_argument("--holdout", type=float, help="share of notes (whole patients) held out (default 0.2)")
    parser.add_argument("--max-minutes", type=float, help="stop training after this long (default 45)")
    parser.add_argument("--allow-min-count", type=int, help="mine an allow list from values flagged this often "
                        "and never labelled (default 3; 0: no allow list)")  # fmt: skip
    parser.add_argument("--seed", type=int, help="seed of splits, replay and training (default 13)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def _settings(args: argparse.Namespace) -> object:
    from pipeline.modelbuild.adapt.build import AdaptSettings, with_overrides

    checks = (
        (args.threads < 1, "--threads must be at least 1"),
        (args.epochs is not None and args.epochs <= 0, "--epochs must be positive"),
        (args.learning_rate is not None and args.learning_rate <= 0, "--learning-rate must be positive"),
        (args.replay is not None and args.replay < 0, "--replay must be 0 or more"),
        (args.frozen_layers is not None and args.frozen_layers < -1, "--frozen-layers must be -1 or more"),
        (args.holdout is not None and not 0 < args.holdout < 1, "--holdout must be between 0 and 1"),
        (args.max_minutes is not None and args.max_minutes <= 0, "--max-minutes must be positive"),
        (args.allow_min_count is not None and args.allow_min_count < 0, "--allow-min-count must be 0 or more"),
        (not args.base.is_dir(), f"--base {args.base}: no such folder"),
    )
    for failed, message in checks:
        if failed:
            raise ConfigError(message)
    return with_overrides(
        AdaptSettings(),
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        replay=args.replay,
        frozen_layers=args.frozen_layers,
        holdout=args.holdout,
        max_minutes=args.max_minutes,
        allow_min_count=args.allow_min_count,
        seed=args.seed,
        threads=args.threads,
    )


def _notes(args: argparse.Namespace) -> list:
    from pipeline.modelbuild.adapt.corpus import TypeMap, read_site_corpus

    return read_site_corpus(args.corpus, TypeMap.from_file(args.type_map))


def _sizes(text: str) -> list[int | None]:
    sizes: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "all":
            sizes.append(None)
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise ConfigError(f"--sizes: {part!r} is neither a positive number nor 'all'")
    return sizes


def _needs_torch() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{MODELS_EXTRA_HINT}: {exc}") from None


def run_adapt(args: argparse.Namespace) -> int:

    try:
        settings = _settings(args)
        if args.out.resolve() == args.base.resolve():
            raise ConfigError(f"--out {args.out} is the base model's folder; write the adapted model to its own folder")
        notes = _notes(args)
        curve = _read_curve(args.curve) if args.curve else None
        _needs_torch()
    except PipelineError as exc:  # ConfigError (a bad option) included: one line, exit 2
        print(f"model adapt: {exc}", file=sys.stderr)
        return 2
    from pipeline.modelbuild.adapt.build import adapt
    from pipeline.modelbuild.adapt.card import write_card

    report = adapt(notes, args.out, args.base, settings, args.build_dir, lambda line: print(line, flush=True))  # type: ignore[arg-type]
    if curve is not None:
        report["learning_curve"] = curve
        png = args.curve.with_suffix(".png")
        if png.exists():
            shutil.copy2(png, args.out / "learning_curve.png")
        (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        write_card(args.out, report)
    print(f"report: {args.out / 'report.json'}; site policy: {args.out / 'site_policy.yaml'}")
    return 0


def _read_curve(path: Path) -> dict:
    try:
        curve = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--curve {path}: not a learning_curve.json ({type(exc).__name__})") from None
    if not isinstance(curve, dict) or "summary" not in curve:
        raise ConfigError(f"--curve {path}: not a learning_curve.json from 'model adapt-curve'")
    return curve


def run_curve(args: argparse.Namespace) -> int:

    try:
        settings = _settings(args)
        sizes = _sizes(args.sizes)
        if args.folds < 2:
            raise ConfigError("--folds must be at least 2")
        if args.jobs < 1:
            raise ConfigError("--jobs must be at least 1")
        notes = _notes(args)
        if len({n.group for n in notes}) < args.folds:
            raise ConfigError(f"--folds {args.folds}: the corpus has fewer patients than folds")
        _needs_torch()
    except PipelineError as exc:  # ConfigError (a bad option) included: one line, exit 2
        print(f"model adapt-curve: {exc}", file=sys.stderr)
        return 2
    from pipeline.modelbuild.adapt.card import curve_lines
    from pipeline.modelbuild.adapt.curve import CURVE_FILE, learning_curve, plot_curve

    command = "phi-pipeline model " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("adapt-curve") :]) \
        if "adapt-curve" in sys.argv else None  # fmt: skip
    result = learning_curve(
        notes, sizes, args.folds, args.base, settings, args.out,  # type: ignore[arg-type]
        progress=lambda line: print(line, flush=True), keep_models=args.keep_models, jobs=args.jobs,
    )  # fmt: skip
    result["command"] = command
    (args.out / CURVE_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    plot_curve(result["summary"], args.out / "learning_curve.png")  # type: ignore[arg-type]
    print("\n".join(curve_lines(result, command)))
    return 0
