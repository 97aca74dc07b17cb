"""The sensitive-category model card, written from the build report so its figures are the measured ones."""

from __future__ import annotations

from pathlib import Path

from pipeline.modelbuild.sensitive.corpus import CATEGORIES

BUILD_COMMAND = "phi-pipeline model build-sensitive"
REAL_REPORT = Path(__file__).resolve().parents[3] / "models" / "sensitive_eval" / "real_notes_report.json"

#: How the worker decides (pipeline/core/sensitive_evidence): the model's scores are one input of two.
DECISION = [
    "## Decision: the model and the note's evidence",
    "The worker does not act on the model's scores alone. Each note is first read against maintained",
    "vocabularies (`pipeline/core/sensitive_evidence/`): clinical terms per CRITERIA.md, medication classes",
    "(WHO ATC: N07B for opioid and alcohol use disorder, J05A antiretrovirals and PrEP, N05A/N06A",
    "psychiatric medicines, G03A/G02B contraception), laboratory tests (HIV viral load and antibody, CD4,",
    "RPR/VDRL/treponemal, chlamydia and gonorrhoea NAAT, germline and carrier panels, karyotype,",
    "microarray, NIPT), ICD-10-CM codes (F10-F19 without F17, F20-F48, F50-F69, F90-F94, B20/Z21/R75,",
    "A50-A64, O00-O9A, Z30-Z39/Z3A, N96-N98, Z14-Z15, Z13.7, Z31.43-Z31.44) and obstetric shorthand",
    "(`24w3d`, `G2P1`), each occurrence read in context: negated (`denies`, `no`, `negative for`), a",
    "relative's (`mother`, a family-history section), a negative safety screen (`hCG negative`,",
    "`PHQ-2 0`), a screening question, or inside a phrase that only shares a word (`ST depression`,",
    "`withdrawal of care`, `IVF` for intravenous fluids, `SSRI` for sliding-scale insulin).",
    "",
    "- **Strong evidence** (the patient's own diagnosis, treatment, test or care in the category) finds the",
    "  category whatever the model says (score at least 0.9).",
    "- **Weak evidence** (words shared with ordinary care: `etoh`, `anxiety`, `quetiapine`, `pregnancy test`)",
    "  lets the model decide at its threshold; mental health needs two kinds of weak evidence.",
    "- **No evidence**: the category is not found (score 0). No injection, procedure, post-operative day or",
    "  template phrasing puts a note in a category on the model's word alone.",
    "- Psychotherapy notes need session evidence and are never found in a note with systems-review headings",
    "  (a nursing or ICU progress note is never one under 45 CFR 164.501); one found is mental health too.",
    "",
    "The model runs only on the notes whose decision its score can change (weak evidence only, or a single",
    "psychotherapy term); elsewhere the evidence decides (on the real development half most notes never",
    "reach the model: `notes_the_model_ran_on` below).",
    "",
]


def _table(rows: dict[str, dict]) -> list[str]:
    lines = ["| category | gold | precision | recall | tp / fp / fn |", "|---|---:|---:|---:|---|"]
    for key in [c.value for c in CATEGORIES] + ["micro"]:
        row = rows[key]
        lines.append(
            f"| {key} | {row['gold']} | {row['precision']:.3f} | {row['recall']:.3f} | "
            f"{row['tp']} / {row['fp']} / {row['fn']} |"
        )
    notes = rows["notes"]
    lines.append("")
    lines.append(
        f"{notes['count']} notes; exact category set right for {notes['exact_match']:.1%}; "
        f"{notes['no_category_flagged']} of {notes['no_category']} notes of no category flagged."
    )
    return lines


def _second_stage(report: dict) -> list[str]:
    second = report.get("second_stage")
    if not second:
        return []
    settings, training = second["settings"], second["training"]
    return [
        f"- Second stage from the first stage's weights: {second['notes']} further training notes (never seen by the "
        f"first), {training['steps']} steps, learning rate {settings['learning_rate']}, "
        f"{training['seconds'] / 60:.1f} minutes; final loss {training['final_loss']}. One long run does not fit a",
        "  session on this machine's shared cores, and the rarer categories were still learning when the first",
        "  stage's rate had decayed.",
    ]


def _real_notes(path: Path = REAL_REPORT) -> list[str]:
    """The real-note evaluation (``phi-pipeline model evaluate-sensitive-real``), when its report exists."""
    if not path.exists():
        return []
    import json

    from pipeline.modelbuild.sensitive.realnotes import summary

    return [
        "## Real notes and the hand-written set: model alone and with evidence",
        "Real notes: 331 ICU nursing notes of the PhysioNet deid development half, labelled by hand",
        "(`models/sensitive_eval/README.md`: sampling rule, counts, close calls); the development half has no",
        "note of HIV/STI, reproductive, genetic or psychotherapy care, so for those only false flags are measured.",
        "Thresholds are the model's (above). From `phi-pipeline model evaluate-sensitive-real`:",
        "",
        *summary(json.loads(path.read_text(encoding="utf-8"))),
        "",
    ]


def write_card(out_dir: Path, report: dict) -> Path:
    evaluation = report["evaluation"]
    settings = report["settings"]
    corpus = report["corpus"]
    training = report["training"]
    quant = report["quantization"]
    lines = [
        "# Sensitive-category classifier (int8 ONNX)",
        "",
        "A note-level multi-label classifier for the categories the law protects beyond Safe Harbor: substance",
        "use disorder (42 CFR Part 2), mental health, psychotherapy notes (45 CFR 164.501), HIV and other sexually",
        "transmitted infections, reproductive health care (the 2024 HIPAA reproductive health privacy rule) and",
        "genetic information (GINA). The criteria, with their legal sources and what does not count, are in",
        "[CRITERIA.md](CRITERIA.md). The worker runs it on the original note beside the detector; its decisions",
        "follow the per-category policy (`PHI_SENSITIVE_POLICY`).",
        "",
        "## Model",
        f"- Base: {report['base_model']}, a sequence-classification head with one sigmoid per category.",
        f"- Fine-tuned on CPU: {training['steps']} steps of {settings['batch_size']} notes, "
        f"{settings['epochs']} epochs, "
        f"learning rate {settings['learning_rate']}, windows of {settings['max_length']} tokens; "
        f"{training['seconds'] / 60:.1f} minutes; final loss {training['final_loss']}.",
        *_second_stage(report),
        f"- Exported with optimum (text-classification), quantized statically to int8: {quant['method']}; "
        f"{quant['calibration_notes']} calibration notes; {quant['fp32_size_mb']} MB fp32 -> "
        f"**{quant['int8_size_mb']} MB** int8.",
        "- Long notes: overlapping windows (stride "
        f"{settings['stride']} tokens), a category's score is its highest over the windows. Each window runs",
        "  alone, so a note's scores never depend on its batch neighbours.",
        "",
        *DECISION,
        "## Data",
        f"- Training: {corpus['train_notes'] + corpus.get('second_stage_notes', 0)} synthetic notes "
        "(`pipeline/modelbuild/sensitive/`), built on the",
        "  detector corpus's thirteen note styles (terse all-caps nursing and ICU notes, discharge summaries,",
        "  radiology, referral letters, telephone encounters, portal messages...) with category sentences in",
        "  several registers placed among their lines, hard negatives (denials, negative screens, family history,",
        "  tobacco, opioids for pain, pathogen PCRs, manifested hereditary disease, routine pregnancy screens)",
        f"  and mixed-category notes. Positives per category: {corpus['train_positives']}; notes of no category:",
        f"  {corpus['train_no_category']}. Synthetic only: no real notes, no public clinical corpus.",
        "- Each fourth template (by position) and a quarter of the background notes are held out of training;",
        "  the development and test splits are written from those.",
        "- The hand-written set (`models/sensitive_eval/handwritten.jsonl`) was written by hand to read like",
        "  real charts, apart from the generator's templates; it was never trained or tuned on.",
        "",
        "## Thresholds (chosen for recall)",
        "",
        "| category | threshold |",
        "|---|---:|",
        *[f"| {name} | {value} |" for name, value in report["thresholds"].items()],
        "",
        f"{report['thresholds_note']}. A missed sensitive note is published; a false alarm is only withheld",
        "or routed for review, so the thresholds lean to recall.",
        "",
    ]
    for set_name in ("test", "handwritten", "development"):
        if set_name not in evaluation:
            continue
        lines += [f"## {set_name.capitalize()} set: {report['evaluation_sets'][set_name]}", ""]
        for model_name in ("int8", "fp32"):
            lines += [f"**{model_name}**", "", *_table(evaluation[set_name][model_name]), ""]
    misses = evaluation.get("handwritten_misses")
    if misses is not None:
        lines += [f"Hand-written items the int8 model gets wrong ({len(misses)}):", ""]
        lines += [f"- `{m['id']}`: missed {m['missed'] or '-'}, extra {m['extra'] or '-'}" for m in misses]
        lines.append("")
    lines += _real_notes()
    latency = evaluation["latency"]
    lines += [
        "## Speed",
        f"int8 {latency['int8']['ms_per_note']} ms per note, fp32 {latency['fp32']['ms_per_note']} ms per note "
        f"(test-split notes, one at a time, {settings['threads']} threads on {report['machine']['cpu_count']} "
        "shared cores); `bench/classifier.py` sets it beside the detector's cost.",
        "",
        "## Limits",
        "- Trained on synthetic sentences: real charts phrase things the templates never did; the hand-written",
        "  figures above are the better guide, and they are small samples.",
        "- Note-level only: it says a note belongs to a category, not which sentence. ICD-10-CM codes are",
        "  classified where they are text the classifier sees (a note, HL7 DG1-4, FHIR CodeableConcept.text);",
        "  coded fields the format layer does not hand over as text (DG1-3, Coding.code) are not yet.",
        "- The vocabularies decide most notes: a sensitive note phrased with none of their terms is missed",
        "  (the model alone cannot find it), and the evidence rules were written with the two evaluation sets",
        "  in view, so their 'with evidence' figures are optimistic.",
        "- English only. Family history alone is deliberately not 'genetic' (see CRITERIA.md), though GINA",
        "  counts it; a policy that needs it must add a rule.",
        "- Psychotherapy notes are recognised by their content (session process, the therapist's impressions);",
        "  HIPAA also requires them to be kept apart from the record, which no text can show.",
        "",
        "## Reproduce",
        f"`{BUILD_COMMAND}` (needs the `models` extra; about {report.get('build_minutes', '?')} minutes on this",
        "machine's shared cores); `phi-pipeline model evaluate-sensitive` re-measures the shipped model from",
        "its build folder.",
        "",
    ]
    path = out_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
