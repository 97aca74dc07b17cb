"""The learning curve of ``model adapt``: adapted on growing numbers of a site's notes, scored by
cross-validation over patients.

For each fold, the test patients are never seen: ``adapt`` runs on N notes of the other folds' patients
(spread over those patients, see :func:`~pipeline.modelbuild.adapt.split.take_groups`),
holding out its own calibration patients from those, and the adapted detector (rules, model,
thresholds, then the site policy) is scored on the test patients. Figures are pooled over folds
(caught gold spans over all gold spans; correct predictions over all predictions). The base detector is
scored on the same test patients for the starting point.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.modelbuild.adapt.build import SITE_POLICY, AdaptSettings, adapt, leak_figures, measure, site_detector
from pipeline.modelbuild.adapt.corpus import SiteNote, documents
from pipeline.modelbuild.adapt.split import group_folds, take_groups

CURVE_FILE = "learning_curve.json"


def pooled(rows: Sequence[dict[str, object]]) -> dict[str, object]:
    """Leak-free recall and span precision over several folds' counts."""
    gold = sum(int(r["gold"]) for r in rows)  # type: ignore[call-overload]
    caught = sum(int(r["caught"]) for r in rows)  # type: ignore[call-overload]
    predicted = sum(int(r["predicted"]) for r in rows)  # type: ignore[call-overload]
    correct = sum(int(r["correct_predictions"]) for r in rows)  # type: ignore[call-overload]
    return {
        "recall": round(caught / gold, 4) if gold else 0.0,
        "precision": round(correct / predicted, 4) if predicted else 0.0,
        "gold": gold,
        "caught": caught,
        "predicted": predicted,
        "correct_predictions": correct,
    }


def fold_runs(
    index: int,
    train: Sequence[SiteNote],
    test: Sequence[SiteNote],
    sizes: Sequence[int | None],
    base_dir: Path,
    settings: AdaptSettings,
    work_dir: Path,
    keep_models: bool = False,
    progress: Callable[[str], None] = print,
) -> list[dict[str, object]]:
    """One fold: the base detector, then ``adapt`` on each size, each scored on ``test`` alone and with its
    site policy (applied to the same spans, as the worker applies it after detection)."""
    from pipeline.core.policy import load_policy
    from pipeline.core.policy.detector import PolicyDetector
    from pipeline.modelbuild.evaluate import run_detector

    test_docs = documents(test)
    base = measure(site_detector(base_dir, settings.threads).detect_batch, test_docs)  # type: ignore[attr-defined]
    runs: list[dict[str, object]] = [{"fold": index, "size": 0, "test_notes": len(test), "detector": "base", **base}]
    progress(f"curve: fold {index}: base recall {base['recall']} precision {base['precision']} on {len(test)} notes")
    for size in sizes:
        subset = take_groups(train, size if size is not None else len(train), settings.seed)
        out = work_dir / f"fold{index}-n{len(subset)}"
        started = time.monotonic()
        adapt(subset, out, base_dir, settings, progress=progress, evaluate_heldout=False)
        seconds = round(time.monotonic() - started, 1)
        detector = site_detector(out, settings.threads)
        found = run_detector(detector.detect_batch, test_docs)  # type: ignore[attr-defined]
        policy = PolicyDetector(detector, load_policy(out / SITE_POLICY))  # type: ignore[arg-type]
        with_policy = [policy.adjust(d.text, spans) for d, spans in zip(test_docs, found, strict=True)]
        for name, predictions in (("adapted", found), ("adapted+site policy", with_policy)):
            figures = leak_figures(test_docs, predictions)
            runs.append({"fold": index, "size": len(subset), "requested": size or "all", "test_notes": len(test),
                         "detector": name, "adapt_seconds": seconds, **figures})  # fmt: skip
            progress(
                f"curve: fold {index}: {name} on {len(subset)} notes: recall {figures['recall']} "
                f"precision {figures['precision']} (adapt {seconds:.0f} s)"
            )
        if not keep_models:
            shutil.rmtree(out, ignore_errors=True)
    return runs


def learning_curve(
    notes: Sequence[SiteNote],
    sizes: Sequence[int | None],
    folds: int,
    base_dir: Path,
    settings: AdaptSettings,
    work_dir: Path,
    progress: Callable[[str], None] = print,
    keep_models: bool = False,
    jobs: int = 1,
) -> dict[str, object]:
    """Run the curve; ``None`` in ``sizes`` means all of a fold's training notes. ``jobs`` folds run at once
    in processes of their own (each with ``settings.threads`` threads). Writes ``CURVE_FILE`` into
    ``work_dir`` as folds finish, so a stopped run keeps what it measured."""
    work_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {
        "how": f"{folds}-fold cross-validation by patient; adapt on N training notes spread over the training "
        "patients, score the untouched test patients; counts pooled over folds",
        "notes": len(notes),
        "patients": len({n.group for n in notes}),
        "folds": folds,
        "settings": settings.as_dict(),
        "runs": [],
    }
    runs: list[dict[str, object]] = result["runs"]  # type: ignore[assignment]
    splits = group_folds(notes, folds, settings.seed)
    tasks = [
        (i, train, test, sizes, base_dir, settings, work_dir, keep_models) for i, (train, test) in enumerate(splits)
    ]

    def record(fold: list[dict[str, object]]) -> None:
        runs.extend(fold)
        runs.sort(key=lambda r: (int(r["fold"]), int(r["size"]), str(r["detector"])))  # type: ignore[call-overload]
        result["summary"] = summarize(runs)
        (work_dir / CURVE_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

    if jobs <= 1:
        for task in tasks:
            record(fold_runs(*task, progress=progress))
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for fold in pool.map(_fold_in_process, tasks):
                record(fold)
    return result


def _fold_in_process(task: tuple) -> list[dict[str, object]]:
    return fold_runs(*task, progress=lambda line: print(line, flush=True))


def summarize(runs: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """One pooled row per (requested size, detector), base first, with the mean notes and adapt time."""
    keys: list[tuple[str, str]] = []
    for r in runs:
        key = (str(r.get("requested", 0)), str(r["detector"]))
        if key not in keys:
            keys.append(key)
    rows = []
    for requested, detector in keys:
        group = [r for r in runs if str(r.get("requested", 0)) == requested and r["detector"] == detector]
        seconds = [float(r["adapt_seconds"]) for r in group if "adapt_seconds" in r]  # type: ignore[arg-type]
        rows.append({
            "requested": requested if detector != "base" else 0,
            "detector": detector,
            "folds": len(group),
            "mean_train_notes": round(sum(int(r["size"]) for r in group) / len(group)),  # type: ignore[call-overload]
            "mean_adapt_minutes": round(sum(seconds) / len(seconds) / 60, 1) if seconds else None,
            **pooled(group),
        })  # fmt: skip
    return rows


def plot_curve(summary: Sequence[dict[str, object]], path: Path) -> Path:
    """Recall and precision against training notes, for the adapted detector with and without the policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    base = next((r for r in summary if r["detector"] == "base"), None)
    for detector, style in (("adapted", "--"), ("adapted+site policy", "-")):
        rows = sorted((r for r in summary if r["detector"] == detector), key=lambda r: r["mean_train_notes"])  # type: ignore[arg-type, return-value]
        if base is not None:
            rows = [base, *rows]
        xs = [r["mean_train_notes"] for r in rows]
        ax.plot(xs, [r["recall"] for r in rows], style, marker="o", label=f"{detector}: leak-free recall")
        ax.plot(xs, [r["precision"] for r in rows], style, marker="s", label=f"{detector}: span precision")
    ax.set_xlabel("site notes adapted on (0: shipped detector)")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("model adapt: cross-validated by patient")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
