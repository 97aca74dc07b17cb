"""``model adapt``: the shipped detector fine-tuned on a site's labelled notes, ready for the worker.

1. Hold out whole patients (``holdout`` of the notes) for calibration and the before/after figures.
2. Rebuild trainable weights from the base folder (:mod:`pipeline.modelbuild.adapt.weights`) and check
   they still label tokens as the base ONNX model does.
3. Fine-tune on the site's windows mixed with windows of the shipped synthetic training corpus
   (``replay`` of them per site window), so the model keeps what it knew about every PHI type, with the
   build's own loop (:func:`pipeline.modelbuild.train.train`), on the GPU when torch sees one.
4. Export with optimum and quantize with the shipped quantizer (the build's own steps).
5. Calibrate per-type thresholds on the held-out patients (the build's own rule).
6. Mine the site lexicon from the training patients into ``site_policy.yaml``.
7. Measure base and adapted detectors on the held-out patients; write ``report.json`` and the card.

The output folder is a detector folder like the shipped one: ``--model DIR`` for ``detect``, ``eval`` and
``redact``, ``PHI_DETECTOR_MODEL=DIR`` for the worker; the site policy goes to ``--policy`` /
``PHI_POLICY_PATH``. Intermediate files go to a build folder, a temporary one unless given.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pipeline.core.errors import ConfigError
from pipeline.core.spans import Span
from pipeline.modelbuild.adapt.corpus import SiteNote, documents
from pipeline.modelbuild.adapt.lexicon import SiteLexicon, mine_allow, mine_deny, write_policy
from pipeline.modelbuild.adapt.split import hold_out
from pipeline.modelbuild.evaluation.corpus import Document

SITE_POLICY = "site_policy.yaml"
SHIPPED = ("model_quantized.onnx", "tokenizer.json", "labels.json")


@dataclass(frozen=True)
class AdaptSettings:
    """Everything that decides the adapted model (recorded in its report and card)."""

    epochs: float = 2.0
    learning_rate: float = 5e-5
    batch_size: int = 16
    #: Synthetic training windows mixed in per site window (replay, against forgetting).
    replay: float = 0.5
    #: The embeddings and this many bottom encoder layers stay as the base has them (see TrainSettings).
    frozen_layers: int = 2
    #: Share of the site's notes (whole patients) held out for calibration and the held-out figures.
    holdout: float = 0.2
    seed: int = 13
    threads: int = 2
    max_minutes: float = 45.0
    lexicon_min_count: int = 2
    lexicon_purity: float = 0.95
    #: Values the adapted detector still flags this often in the training notes, never labelled: allowed.
    allow_min_count: int = 3
    device: str = field(default_factory=lambda: _torch_device())

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _torch_device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


class AdaptError(ConfigError):
    """The site corpus or the options cannot make an adapted model; the message says what to change."""


def _window_settings(base_dir: Path) -> tuple[int, int]:
    labels = base_dir / "labels.json"
    if labels.exists():
        raw = json.loads(labels.read_text(encoding="utf-8"))
        return int(raw.get("max_length", 256)), int(raw.get("stride", 64))
    return 256, 64


def replay_windows(count: int, seed: int, tokenizer: object, max_length: int, stride: int) -> tuple[list, int]:
    """At least ``count`` windows of the shipped synthetic training corpus (the same seed and split the
    shipped build trained on), and the number of notes they came from."""
    from pipeline.modelbuild.corpus import Split, generate
    from pipeline.modelbuild.features import encode_notes

    windows: list = []
    notes = 0
    while len(windows) < count:
        batch = max(16, math.ceil((count - len(windows)) / 1.2))
        windows += encode_notes(generate(batch, seed, Split.TRAIN, start=notes), tokenizer, max_length, stride)  # type: ignore[arg-type]
        notes += batch
    return windows[:count], notes


def measure(detect_batch: Callable[[Sequence[str]], list], docs: Sequence[Document]) -> dict[str, object]:
    """Type-blind leak-free recall and span precision (Safe Harbor, as a leak is judged), with counts."""
    from pipeline.modelbuild.evaluate import run_detector

    return leak_figures(docs, run_detector(detect_batch, docs))


def leak_figures(docs: Sequence[Document], predictions: Sequence[Sequence[Span]]) -> dict[str, object]:
    """:func:`measure`'s figures for predictions already made."""
    from pipeline.modelbuild.evaluation import score_corpus

    scores = score_corpus(docs, predictions)
    total = scores.leak_free.get("ALL")
    by_type = {k: round(c.recall, 4) for k, c in sorted(scores.leak_free.items()) if k != "ALL" and c.gold}
    return {
        "recall": round(total.recall, 4) if total else 0.0,
        "precision": round(total.precision, 4) if total else 0.0,
        "gold": total.gold if total else 0,
        "caught": total.tp_gold if total else 0,
        "predicted": total.pred if total else 0,
        "correct_predictions": total.tp_pred if total else 0,
        "recall_by_type": by_type,
    }


def site_detector(model_dir: Path | None, threads: int, policy_path: Path | None = None) -> object:
    """Rules plus the model in ``model_dir`` with its thresholds, and the site policy's lists when given."""
    from pipeline.core.policy import load_policy
    from pipeline.core.policy.detector import PolicyDetector
    from pipeline.runtime.detectors import build_detector

    detector = build_detector(model_dir, provider="cpu", threads=threads)
    if policy_path is None:
        return detector
    return PolicyDetector(detector, load_policy(policy_path))


def adapt(
    notes: Sequence[SiteNote],
    out_dir: Path,
    base_dir: Path,
    settings: AdaptSettings,
    build_dir: Path | None = None,
    progress: Callable[[str], None] = print,
    evaluate_heldout: bool = True,
) -> dict[str, object]:
    """Adapt ``base_dir``'s detector to ``notes`` into ``out_dir``; returns the report (also written there)."""
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="phi-adapt-") as tmp:
            return adapt(notes, out_dir, base_dir, settings, Path(tmp), progress, evaluate_heldout)
    if out_dir.resolve() == base_dir.resolve():
        raise AdaptError(f"--out {out_dir} is the base model's folder; write the adapted model to a folder of its own")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    from pipeline.modelbuild.adapt.weights import agreement, trainable_folder
    from pipeline.modelbuild.calibrate import calibrate_model, plot_curves, write_thresholds
    from pipeline.modelbuild.export import export_onnx
    from pipeline.modelbuild.features import encode_notes, load_tokenizer
    from pipeline.modelbuild.quantize import CALIBRATION_WINDOWS, QUANTIZERS, SHIPPED_QUANTIZER
    from pipeline.modelbuild.train import TrainSettings, train

    started = time.monotonic()
    torch.set_num_threads(settings.threads)
    try:
        train_notes, held = hold_out(notes, settings.holdout, settings.seed)
    except ValueError as exc:
        raise AdaptError(f"site corpus: {exc}") from None
    progress(
        f"adapt: {len(notes)} notes of {len({n.group for n in notes})} patients: {len(train_notes)} to train, "
        f"{len(held)} held out ({len({n.group for n in held})} patients) for calibration"
    )
    max_length, stride = _window_settings(base_dir)
    tokenizer = load_tokenizer(base_dir / "tokenizer.json")
    site_windows = encode_notes(train_notes, tokenizer, max_length, stride)
    replay, replay_notes = replay_windows(
        int(settings.replay * len(site_windows)), settings.seed, tokenizer, max_length, stride
    )

    progress(f"adapt: base weights from {base_dir}")
    base_hf = trainable_folder(base_dir, build_dir / "base-hf")
    rebuilt = agreement(base_hf, base_dir, site_windows[:32], settings.threads) if base_hf != base_dir else None

    progress(f"adapt: fine-tuning on {len(site_windows)} site and {len(replay)} replay windows ({settings.device})")
    train_settings = TrainSettings(
        seed=settings.seed,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        max_length=max_length,
        stride=stride,
        threads=settings.threads,
        max_minutes=settings.max_minutes,
        init_from=str(base_hf),
        device=settings.device,
        frozen_layers=settings.frozen_layers,
    )
    training = train(site_windows + replay, build_dir / "hf", train_settings, progress)

    progress("adapt: export and int8 quantization")
    fp32_dir = build_dir / "onnx-fp32"
    export_onnx(build_dir / "hf", fp32_dir, max_length, stride)
    mixed = site_windows + replay
    step = max(1, len(mixed) // CALIBRATION_WINDOWS)
    calibration = [w.input_ids for w in mixed[::step][:CALIBRATION_WINDOWS]]
    int8_path = QUANTIZERS[SHIPPED_QUANTIZER](fp32_dir, build_dir / "int8", calibration)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        shutil.copy2(int8_path.parent / name, out_dir / name)

    held_docs = documents(held)
    thresholds, curves = calibrate_model(out_dir, held_docs, settings.threads, progress)
    write_thresholds(
        out_dir,
        thresholds,
        f"chosen by 'phi-pipeline model adapt' on {len(held)} held-out site notes "
        f"({len({n.group for n in held})} patients): the build's rule (highest threshold per type keeping "
        "type-blind leak-free recall within 0.001 of the lowest threshold's)",
    )
    plot_curves(curves, thresholds, out_dir / "pr_curves.png")

    progress("adapt: mining the site lexicon")
    deny = mine_deny(train_notes, settings.lexicon_min_count, settings.lexicon_purity)
    allow: list[str] = []
    if settings.allow_min_count > 0:
        from pipeline.modelbuild.evaluate import run_detector

        found = run_detector(site_detector(out_dir, settings.threads).detect_batch, documents(train_notes))  # type: ignore[attr-defined]
        allow = mine_allow(train_notes, found, deny, settings.allow_min_count)
    lexicon = SiteLexicon(deny, allow, {"min_count": settings.lexicon_min_count, "purity": settings.lexicon_purity})
    policy_path = write_policy(
        lexicon,
        out_dir / SITE_POLICY,
        f"Site lexicon mined by 'phi-pipeline model adapt' from {len(train_notes)} labelled notes.\n"
        "It lists the site's own staff names and places: keep it as you keep the notes.\n"
        f"Use: --policy {out_dir / SITE_POLICY} (redact) or PHI_POLICY_PATH (worker).",
    )

    report: dict[str, object] = {
        "kind": "site-adapted detector",
        "base": str(base_dir),
        "settings": settings.as_dict(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "corpus": {
            "notes": len(notes),
            "patients": len({n.group for n in notes}),
            "train_notes": len(train_notes),
            "train_patients": len({n.group for n in train_notes}),
            "heldout_notes": len(held),
            "heldout_patients": len({n.group for n in held}),
            "train_spans": sum(len(n.spans) for n in train_notes),
            "site_windows": len(site_windows),
            "replay_windows": len(replay),
            "replay_notes": replay_notes,
        },
        "base_rebuilt": rebuilt,
        "training": training,
        "thresholds": {t.value: v for t, v in sorted(thresholds.items(), key=lambda kv: kv[0].value)},
        "lexicon": {"deny_terms": lexicon.deny_count, "deny_by_type": {t.value: len(v) for t, v in deny.items()},
                    "allow_terms": len(allow), "policy": policy_path.name},
    }  # fmt: skip
    if evaluate_heldout:
        progress("adapt: measuring base and adapted detectors on the held-out patients")
        report["heldout"] = {
            "base": measure(site_detector(base_dir, settings.threads).detect_batch, held_docs),  # type: ignore[attr-defined]
            "adapted": measure(site_detector(out_dir, settings.threads).detect_batch, held_docs),  # type: ignore[attr-defined]
            "adapted+site policy": measure(
                site_detector(out_dir, settings.threads, policy_path).detect_batch,  # type: ignore[attr-defined]
                held_docs,
            ),
        }
    report["minutes"] = round((time.monotonic() - started) / 60, 1)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    from pipeline.modelbuild.adapt.card import write_card

    write_card(out_dir, report)
    progress(f"adapt: done in {report['minutes']} min: {out_dir}")
    return report


def with_overrides(settings: AdaptSettings, **overrides: object) -> AdaptSettings:
    """``settings`` with the given fields replaced (None values ignored)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
