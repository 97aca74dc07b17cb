"""The sensitive-category classifier on real clinical language: the hand-labelled development-half notes.

Labels (ids and categories only) are in ``models/sensitive_eval/physionet_dev_labels.jsonl``; the text is
read from ``../shared/data/physionet_deid_dev/notes.jsonl`` and never copied. One run scores every note of
the development half once with the model, then combines those scores with each note's evidence, so the
model alone ("before") and the model with evidence ("after") are measured on the same scores:

- precision and recall per category at the model's thresholds, on the labelled real notes and on the
  hand-written set;
- the confusion of multi-category notes (gold set against predicted set);
- the share of the whole development half flagged per category;
- per category, the flags on notes that carry no term of the category's screen list (:data:`SCREEN`, the
  list the sample was drawn with: broad on purpose), with sample ids and what triggered each flag (term
  ids, never text);
- CPU milliseconds per note of the model alone, of the evidence scan, and of the classifier as the worker
  runs it (evidence first, the model only where its score can change a decision).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.sensitive import NoteClassifier, SensitiveCategory
from pipeline.core.sensitive_evidence import EvidenceClassifier, combine, find_evidence
from pipeline.core.sensitive_evidence.combine import needs_model
from pipeline.modelbuild.sensitive.build import REPO, table
from pipeline.modelbuild.sensitive.corpus import CATEGORIES, read_jsonl

LABELS = REPO / "models" / "sensitive_eval" / "physionet_dev_labels.jsonl"
NOTES = REPO.parent / "shared" / "data" / "physionet_deid_dev" / "notes.jsonl"
HANDWRITTEN = REPO / "models" / "sensitive_eval" / "handwritten.jsonl"
SAMPLES = 5

Scores = dict[SensitiveCategory, float]
Labelled = tuple[str, str, frozenset[SensitiveCategory]]

#: The screen the labelled sample was drawn with (models/sensitive_eval/README.md), one pattern per category:
#: a flag on a note that matches none of its category's pattern has nothing in the text to stand on.
SCREEN: dict[SensitiveCategory, re.Pattern[str]] = {
    SensitiveCategory.SUBSTANCE_USE: re.compile(
        r"(?i)\b(etoh\w*|alcohol\w*|ciwa|cows|withdrawal|withdrawl|detox|heroin\w*|cocaine|crack|ivdu|ivda|idu|"
        r"drug (?:abuse|use)|substance|methadone|suboxone|buprenorph\w*|subutex|narcan|naloxone|dt'?s|"
        r"delirium tremens|polysubstance|marijuana|thc|tox|drinks?|drinking|beer|vodka|wine|liquor|"
        r"overdose|opiate\w*|narcotic\w*|abuse|intoxicat\w*|ethanol|cirrhosis)\b"
    ),
    SensitiveCategory.MENTAL_HEALTH: re.compile(
        r"(?i)\b(psych\w*|depress\w*|anxi\w*|bipolar|schizo\w*|suicid\w*|si/hi|ptsd|ocd|zyprexa|olanzapine|"
        r"seroquel|quetiapine|risperd\w*|lithium|sertraline|zoloft|prozac|fluoxetine|celexa|citalopram|paxil|"
        r"wellbutrin|effexor|trazodone|elavil|remeron|buspar|klonopin|xanax|antidepress\w*|mood|hallucinat\w*|"
        r"paranoi\w*|self.harm)\b"
    ),
    SensitiveCategory.PSYCHOTHERAPY_NOTES: re.compile(r"(?i)\b(psychotherap\w*|therapist|counsel\w*|session)\b"),
    SensitiveCategory.HIV_STI: re.compile(
        r"(?i)\b(hiv\w*|aids|cd4|viral load|haart|retrovir\w*|syphilis|rpr|vdrl|chlamydia|gonorrh\w*|gc|std|stds|"
        r"sti|stis|herpes|hsv|trich\w*|hepatitis|hep|hcv|hbv|condyloma|truvada|prep)\b"
    ),
    SensitiveCategory.REPRODUCTIVE: re.compile(
        r"(?i)\b(pregnan\w*|hcg|g\d+ ?p\d+|gravida|ob|ob/gyn|gyn\w*|obstet\w*|iud|contracept\w*|abortion|miscarr\w*|"
        r"gestation\w*|postpartum|prenatal|labor|c-section|tubal|vasectomy|menses|menstru\w*|lmp|infertil\w*|"
        r"ovar\w*|uter\w*|vagina\w*|estrogen|ocp|birth)\b"
    ),
    SensitiveCategory.GENETIC: re.compile(
        r"(?i)\b(genetic\w*|gene|genes|brca\d?|karyotype|mutation\w*|carrier|sequencing|chromosom\w*|trisomy|"
        r"leiden|hereditary|familial|genotyp\w*)\b"
    ),
}


@dataclass(frozen=True)
class Scored:
    """Every development-half note's text, the model's scores and the combined scores (and their evidence)."""

    texts: dict[str, str]
    model: dict[str, Scores]
    combined: dict[str, Scores]
    evidence: dict[str, dict[str, object]]
    model_seconds: float
    evidence_seconds: float


def read_notes(path: Path = NOTES) -> dict[str, str]:
    """id -> text of every note of the development half (a missing file raises FileNotFoundError)."""
    return {
        str(record["id"]): str(record["text"])
        for record in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    }


def read_labels(path: Path = LABELS) -> dict[str, frozenset[SensitiveCategory]]:
    return {
        str(record["id"]): frozenset(SensitiveCategory(c) for c in record["categories"])
        for record in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    }


def score(model: NoteClassifier, texts: Mapping[str, str], batch: int = 16) -> Scored:
    """The model's scores of every text, then the combined scores (model and evidence timed apart, CPU)."""
    ids = list(texts)
    started = time.process_time()
    model_scores: dict[str, Scores] = {}
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        for note_id, scores in zip(chunk, model.classify_batch([texts[n] for n in chunk]), strict=True):
            model_scores[note_id] = dict(scores)
    model_seconds = time.process_time() - started
    started = time.process_time()
    combined: dict[str, Scores] = {}
    evidence: dict[str, dict[str, object]] = {}
    for note_id in ids:
        found = find_evidence(texts[note_id])
        combined[note_id] = combine(model_scores[note_id], found, model.thresholds)
        evidence[note_id] = found.as_record()
    evidence_seconds = time.process_time() - started
    return Scored(dict(texts), model_scores, combined, evidence, model_seconds, evidence_seconds)


def flagged(scores: Scores, thresholds: Mapping[SensitiveCategory, float]) -> frozenset[SensitiveCategory]:
    return frozenset(c for c in CATEGORIES if scores.get(c, 0.0) >= thresholds[c])


def confusion(
    gold: Mapping[str, frozenset[SensitiveCategory]],
    scores: Mapping[str, Scores],
    thresholds: Mapping[SensitiveCategory, float],
) -> dict[str, object]:
    """Notes with two or more gold or predicted categories: each gold set against its predicted set, counted;
    and per gold category of those notes, how often each category was predicted."""
    pairs: Counter[tuple[str, str]] = Counter()
    matrix: dict[str, Counter[str]] = {}
    for note_id, categories in gold.items():
        predicted = flagged(scores[note_id], thresholds)
        if len(categories) < 2 and len(predicted) < 2:
            continue
        pairs[
            "+".join(sorted(c.value for c in categories)) or "-", "+".join(sorted(c.value for c in predicted)) or "-"
        ] += 1
        for category in categories:
            row = matrix.setdefault(category.value, Counter())
            row.update(c.value for c in predicted)
            row["(notes)"] += 1
    return {
        "pairs": [{"gold": g, "predicted": p, "notes": n} for (g, p), n in sorted(pairs.items())],
        "by_gold_category": {k: dict(sorted(v.items())) for k, v in sorted(matrix.items())},
    }


def flag_audit(scored: Scored, scores: Mapping[str, Scores], thresholds: Mapping[SensitiveCategory, float]) -> dict:
    """Per category: the share of notes flagged, and the flags on notes with no term of its screen list (count,
    share of notes, and up to :data:`SAMPLES` sample ids with their evidence and model score)."""
    total = len(scored.texts)
    audit: dict[str, object] = {}
    for category in CATEGORIES:
        hits = [n for n in scored.texts if scores[n].get(category, 0.0) >= thresholds[category]]
        bare = [n for n in hits if not SCREEN[category].search(scored.texts[n])]
        audit[category.value] = {
            "flagged": len(hits),
            "share": round(len(hits) / max(1, total), 4),
            "flagged_without_screen_term": len(bare),
            "share_without_screen_term": round(len(bare) / max(1, total), 4),
            "samples_without_screen_term": [
                {
                    "id": n,
                    "model_score": round(scored.model[n].get(category, 0.0), 4),
                    "evidence": scored.evidence[n].get(category.value, {}),
                }
                for n in bare[:SAMPLES]
            ],
        }
    any_flag = sum(bool(flagged(scores[n], thresholds)) for n in scored.texts)
    audit["any"] = {"flagged": any_flag, "share": round(any_flag / max(1, total), 4)}
    return audit


def evaluate_real(
    model: NoteClassifier,
    notes: Mapping[str, str],
    labels: Mapping[str, frozenset[SensitiveCategory]],
    handwritten: Sequence[Labelled] = (),
) -> dict[str, object]:
    """The whole report (see the module docstring); ``model`` is the model alone (no evidence)."""
    thresholds = dict(model.thresholds)
    by_name = {c.value: t for c, t in thresholds.items()}
    scored = score(model, notes)
    hand = score(model, {i: t for i, t, _ in handwritten}) if handwritten else None
    started = time.process_time()
    EvidenceClassifier(model).classify_batch(list(notes.values()))
    deployed = time.process_time() - started
    report: dict[str, object] = {
        "thresholds": by_name,
        "notes": {"development_half": len(notes), "labelled": len(labels), "handwritten": len(handwritten)},
        "cpu_ms_per_note": {
            "model_alone": round(1000 * scored.model_seconds / max(1, len(notes)), 2),
            "evidence_scan": round(1000 * scored.evidence_seconds / max(1, len(notes)), 2),
            "classifier_with_evidence": round(1000 * deployed / max(1, len(notes)), 2),
            "notes_the_model_ran_on": sum(needs_model(find_evidence(t)) for t in notes.values()),
        },
    }
    labelled = [(n, notes[n], labels[n]) for n in labels]
    for name, scores in (("model_only", scored.model), ("with_evidence", scored.combined)):
        section: dict[str, object] = {
            "real_notes": table(labelled, [scores[n] for n in labels], by_name),
            "real_notes_confusion": confusion(labels, scores, thresholds),
            "development_half": flag_audit(scored, scores, thresholds),
        }
        if hand is not None:
            hand_scores = hand.model if name == "model_only" else hand.combined
            section["handwritten"] = table(list(handwritten), [hand_scores[i] for i, _, _ in handwritten], by_name)
            section["handwritten_confusion"] = confusion({i: g for i, _, g in handwritten}, hand_scores, thresholds)
        report[name] = section
    return report


def read_handwritten(path: Path = HANDWRITTEN) -> list[Labelled]:
    return read_jsonl(path) if path.exists() else []


def _pr(row: Mapping[str, float]) -> str:
    """Precision / recall, 'n/a' where nothing was flagged or nothing was there to find."""
    precision = f"{row['precision']:.3f}" if row["tp"] + row["fp"] else "n/a"
    recall = f"{row['recall']:.3f}" if row["gold"] else "n/a"
    return f"{precision} / {recall}"


_HEADER = "| category | gold | model alone P / R | with evidence P / R | tp/fp/fn before -> after |"


def summary(report: Mapping[str, object]) -> list[str]:
    """The report as markdown tables (precision / recall / tp-fp-fn per category, before and after)."""
    lines = [f"thresholds: {report['thresholds']}", f"CPU ms per note: {report['cpu_ms_per_note']}", ""]
    for set_name in ("real_notes", "handwritten"):
        if set_name not in report["with_evidence"]:  # type: ignore[operator]
            continue
        lines += [f"### {set_name}", "", _HEADER, "|---|---:|---:|---:|---|"]
        before = report["model_only"][set_name]  # type: ignore[index]
        after = report["with_evidence"][set_name]  # type: ignore[index]
        for key in [c.value for c in CATEGORIES] + ["micro"]:
            b, a = before[key], after[key]
            lines.append(
                f"| {key} | {a['gold']} | {_pr(b)} | {_pr(a)} | "
                f"{b['tp']}/{b['fp']}/{b['fn']} -> {a['tp']}/{a['fp']}/{a['fn']} |"
            )
        lines.append("")
    lines += ["### development half: share flagged (flags on notes with no screen term)", "",
              "| category | model alone | with evidence |", "|---|---:|---:|"]  # fmt: skip
    for key in [c.value for c in CATEGORIES]:
        b = report["model_only"]["development_half"][key]  # type: ignore[index]
        a = report["with_evidence"]["development_half"][key]  # type: ignore[index]
        lines.append(
            f"| {key} | {b['share']:.1%} ({b['flagged_without_screen_term']}) | "
            f"{a['share']:.1%} ({a['flagged_without_screen_term']}) |"
        )
    b = report["model_only"]["development_half"]["any"]  # type: ignore[index]
    a = report["with_evidence"]["development_half"]["any"]  # type: ignore[index]
    lines.append(f"| any | {b['share']:.1%} | {a['share']:.1%} |")
    return lines
