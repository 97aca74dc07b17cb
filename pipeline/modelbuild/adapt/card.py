"""The adapted model's card (``MODEL_CARD.md``), written from its ``report.json``."""

from __future__ import annotations

from pathlib import Path

CARD = "MODEL_CARD.md"


def _figures_table(rows: dict[str, dict[str, object]]) -> list[str]:
    lines = [
        "| detector | leak-free recall | span precision | gold spans | predicted spans |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['recall']:.3f} | {m['precision']:.3f} | {m['gold']} | {m['predicted']} |")
    return lines


def curve_lines(curve: dict[str, object], command: str | None = None) -> list[str]:
    """The learning-curve table (pooled over folds) for a card or a report."""
    lines = [
        f"{curve['how']} ({curve['notes']} notes, {curve['patients']} patients, {curve['folds']} folds).",
        "",
        "| site notes adapted on (mean per fold) | detector | leak-free recall | span precision | "
        "gold | predicted | adapt minutes (mean) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in curve.get("summary", []):  # type: ignore[union-attr]
        minutes = row.get("mean_adapt_minutes")
        lines.append(
            f"| {row['mean_train_notes']} | {row['detector']} | {row['recall']:.3f} | {row['precision']:.3f} | "
            f"{row['gold']} | {row['predicted']} | {minutes if minutes is not None else '-'} |"
        )
    if command:
        lines += ["", f"Reproduce: `{command}`"]
    return lines


def write_card(out_dir: Path, report: dict[str, object]) -> Path:
    corpus: dict = report["corpus"]  # type: ignore[assignment]
    settings: dict = report["settings"]  # type: ignore[assignment]
    training: dict = report["training"]  # type: ignore[assignment]
    lexicon: dict = report["lexicon"]  # type: ignore[assignment]
    lines = [
        "# PHI detector adapted to a site (`phi-pipeline model adapt`)",
        "",
        "A site's model, not the shipped default: the shipped detector fine-tuned on this site's labelled notes.",
        f"Base: `{report['base']}`. Use it with `--model {out_dir}` (`detect`, `eval`, `redact`) or "
        f"`PHI_DETECTOR_MODEL={out_dir}` (worker), and its site lexicon with `--policy {out_dir}/site_policy.yaml` "
        "(`redact`, `detect`, `eval`) or `PHI_POLICY_PATH` (worker). The folder and the policy hold what was "
        "learnt from the site's notes (the policy lists its staff names and places): keep them as the notes are kept.",
        "",
        "## Data",
        f"- {corpus['notes']} labelled notes of {corpus['patients']} patients (patients from the `PATIENT-NOTE` "
        "ids, or one per note).",
        f"- Trained on {corpus['train_notes']} notes of {corpus['train_patients']} patients "
        f"({corpus['train_spans']} PHI spans, {corpus['site_windows']} windows), mixed with "
        f"{corpus['replay_windows']} windows from {corpus['replay_notes']} notes of the shipped synthetic training "
        f"corpus (replay {settings['replay']}x, seed {settings['seed']}) so that it keeps every PHI type.",
        f"- Held out: {corpus['heldout_notes']} notes of {corpus['heldout_patients']} other patients, for the "
        "thresholds and the figures below.",
        "",
        "## Training",
        f"- Device {settings['device']}, {settings['threads']} threads; {training['steps']} steps (planned "
        f"{training['planned_steps']}) of batch {settings['batch_size']}, {settings['epochs']} epochs, embeddings and "
        f"bottom {settings['frozen_layers']} encoder layers frozen, AdamW lr "
        f"{settings['learning_rate']} with warm-up and linear decay; {training['seconds'] / 60:.1f} min, final "
        f"smoothed loss {training['final_loss']}; whole adaptation {report['minutes']} min.",
    ]
    rebuilt = report.get("base_rebuilt")
    if rebuilt:
        lines.append(
            f"- The base's int8 weights were dequantized into PyTorch; token label agreement with the base ONNX "
            f"model {rebuilt['agreement']:.4f} ({rebuilt['agreement_on_phi_tokens']:.4f} on tokens either calls PHI)."
        )
    lines += [
        "- Exported with optimum and quantized to int8 as the shipped build does; thresholds in `thresholds.json`, "
        "curves in `pr_curves.png`.",
        "",
        "## Site lexicon (`site_policy.yaml`)",
        f"- Deny list: {lexicon['deny_terms']} terms ("
        + ", ".join(f"{k} {v}" for k, v in sorted(lexicon["deny_by_type"].items()))
        + f") labelled PHI in at least {settings['lexicon_min_count']} places and in {settings['lexicon_purity']:.0%} "
        "of their occurrences; clinical and everyday words are never listed.",
        f"- Allow list: {lexicon['allow_terms']} values the detector still flagged at least "
        f"{settings['allow_min_count']} times in the training notes that were never labelled.",
        f"- `phi-pipeline policy check {out_dir}/site_policy.yaml` accepts it.",
    ]
    if "heldout" in report:
        lines += [
            "",
            "## Held-out patients",
            "Type-blind, as a leak is judged (Safe Harbor: a year alone is not counted). The thresholds were chosen "
            "on these notes, so the adapted rows lean optimistic; the learning curve below is the honest figure.",
            "",
            *_figures_table(report["heldout"]),  # type: ignore[arg-type]
        ]
    curve = report.get("learning_curve")
    if isinstance(curve, dict):
        lines += ["", "## Learning curve", *curve_lines(curve, curve.get("command"))]  # type: ignore[arg-type]
        if (out_dir / "learning_curve.png").exists():
            lines += ["", "![learning curve](learning_curve.png)"]
    path = out_dir / CARD
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
