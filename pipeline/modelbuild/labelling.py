"""Label Studio's formats for labelling a site's notes: pre-annotated tasks out, finished labels back in.

Export: one task per note, ``{"data": {"text", "note_id"}, "predictions": [{"model_version", "score",
"result": [...]}]}``, each result a span of the ``Labels`` control named ``label`` over the ``Text``
object named ``text`` (``{"from_name", "to_name", "type": "labels", "value": {"start", "end", "text",
"labels": [TYPE]}}``), with :func:`label_config` the project's labelling interface (one label per PHI
type). Label Studio shows the predictions as pre-annotations, so a labeller corrects instead of starting
from nothing.

Import: Label Studio's JSON export (tasks with ``annotations``) or its JSON-MIN export (flat records with
the control's name holding ``[{start, end, text, labels}]``), back into the corpus format ``{"id",
"text", "spans": [{"start", "end", "type"}]}`` that ``eval`` and ``model adapt`` read. Per task the
annotation used is the ground-truth one, else the latest that was not cancelled (JSON-MIN repeats a task
per annotation without the ground-truth flag: the latest is used); tasks without one are left out and
counted. Offsets are code points, as Label Studio stores them today; exports of older
versions counted UTF-16 units (an emoji counts two), which is recognised by the span's text and
converted. Every error names the task and the result, never the note's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

FROM_NAME = "label"
TO_NAME = "text"
ID_FIELD = "note_id"


class LabelStudioFormatError(PipelineError, ValueError):
    """A Label Studio file this command cannot read; the message names the task and result."""

    reason = "label-studio-format"


def label_config(types: Iterable[PhiType] = tuple(PhiType)) -> str:
    """The labelling interface (Label Studio XML) matching the exported predictions."""
    labels = "\n".join(f"    <Label value={quoteattr(t.value)}/>" for t in types)
    return (
        "<View>\n"
        f'  <Labels name="{FROM_NAME}" toName="{TO_NAME}">\n{labels}\n  </Labels>\n'
        f'  <Text name="{TO_NAME}" value="${TO_NAME}" granularity="word"/>\n'
        "</View>\n"
    )


def task(note_id: object, text: str, spans: Sequence[Span], model_version: str) -> dict[str, Any]:
    """One Label Studio task with the detector's spans as a prediction."""
    results = [
        {
            "id": f"p{index}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {"start": s.start, "end": s.end, "text": text[s.start : s.end], "labels": [s.type.value]},
            "score": round(float(s.score), 4),
        }
        for index, s in enumerate(sorted(spans, key=lambda s: (s.start, s.end)))
    ]
    score = round(sum(r["score"] for r in results) / len(results), 4) if results else 1.0
    return {
        "data": {TO_NAME: text, ID_FIELD: note_id},
        "predictions": [{"model_version": model_version, "score": score, "result": results}],
    }


@dataclass
class Imported:
    """Notes read back, and the tasks left out (no usable annotation), by task id."""

    notes: list[dict[str, Any]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)


def _where(task_index: int, raw: Mapping[str, Any]) -> str:
    return f"task {raw.get('id', '#' + str(task_index))}"


def _utf16_to_index(text: str, units: int) -> int | None:
    count = 0
    for index, char in enumerate(text):
        if count == units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(text) if count == units else None


def span_offsets(text: str, value: Mapping[str, Any], where: str) -> tuple[int, int]:
    """Code-point offsets of a result's span, checked against its ``text`` when the result carries it."""
    try:
        start, end = int(value["start"]), int(value["end"])
    except (KeyError, TypeError, ValueError):
        raise LabelStudioFormatError(f"{where}: a span needs integer 'start' and 'end'") from None
    expected = value.get("text")
    if expected is None or text[start:end] == expected:
        if not 0 <= start < end <= len(text):
            raise LabelStudioFormatError(f"{where}: span [{start}, {end}) is outside a text of {len(text)} characters")
        return start, end
    first, last = _utf16_to_index(text, start), _utf16_to_index(text, end)
    if first is not None and last is not None and text[first:last] == expected:
        return first, last
    raise LabelStudioFormatError(
        f"{where}: span [{start}, {end}) does not hold the text Label Studio recorded for it; was the note's text "
        "changed after export?"
    )


def _chosen(annotations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    usable = [a for a in annotations if not (a.get("was_cancelled") or a.get("skipped"))]
    if not usable:
        return None
    return max(
        usable, key=lambda a: (bool(a.get("ground_truth")), str(a.get("updated_at") or a.get("created_at") or ""))
    )


def _spans(text: str, results: Iterable[Mapping[str, Any]], where: str, from_name: str) -> list[dict[str, Any]]:
    spans = []
    for number, result in enumerate(results):
        if result.get("from_name", from_name) != from_name or result.get("type", "labels") != "labels":
            continue  # other controls (choices, relations, comments) carry no spans
        value = result.get("value", result)
        labels = value.get("labels") or []
        if not isinstance(labels, list) or not labels:
            raise LabelStudioFormatError(f"{where} result {number}: a span without a label")
        start, end = span_offsets(text, value, f"{where} result {number}")
        spans.extend({"start": start, "end": end, "type": str(label)} for label in labels)
    return sorted(spans, key=lambda s: (s["start"], s["end"], s["type"]))


def read_export(payload: Any, from_name: str = FROM_NAME, text_field: str = TO_NAME) -> Imported:
    """Notes in the corpus format from a Label Studio JSON or JSON-MIN export (already parsed)."""
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise LabelStudioFormatError("expected a Label Studio export: a JSON list of tasks")
    out = Imported()
    for index, raw in enumerate(payload):
        where = _where(index, raw) if isinstance(raw, dict) else f"task #{index}"
        if not isinstance(raw, dict):
            raise LabelStudioFormatError(f"{where}: not a JSON object")
        full = "data" in raw  # a task (JSON export); else a flat JSON-MIN record
        data = raw.get("data", {}) if full else raw
        text = data.get(text_field) if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise LabelStudioFormatError(f"{where}: no '{text_field}' string in the task's data")
        note_id = str(data.get(ID_FIELD, raw.get("id", index)))
        if full:
            annotation = _chosen(raw.get("annotations", raw.get("completions")) or [])  # predictions alone: unlabelled
            if annotation is None:
                out.unlabelled.append(str(raw.get("id", index)))
                continue
            spans = _spans(text, annotation.get("result") or [], where, from_name)
        elif raw.get("annotation_id", 0) is None:  # JSON-MIN writes tasks nobody labelled this way
            out.unlabelled.append(str(raw.get("id", index)))
            continue
        else:
            spans = _spans(text, raw.get(from_name) or [], where, from_name)
        out.notes.append({"id": note_id, "text": text, "spans": spans, "_task": raw.get("id", index),
                          "_when": str(raw.get("updated_at") or raw.get("created_at") or "")})  # fmt: skip
    return _one_per_task(out)


def _one_per_task(out: Imported) -> Imported:
    """JSON-MIN repeats a task once per annotation and carries no ground-truth flag: keep the latest."""
    latest: dict[object, dict[str, Any]] = {}
    for note in out.notes:
        kept = latest.get(note["_task"])
        if kept is None or note["_when"] > kept["_when"]:
            latest[note["_task"]] = note
    order = list(dict.fromkeys(n["_task"] for n in out.notes))
    notes = [{k: v for k, v in latest[t].items() if not k.startswith("_")} for t in order]
    return Imported(notes, [u for u in out.unlabelled if u not in {str(t) for t in order}])


def corpus_lines(notes: Iterable[Mapping[str, Any]]) -> Iterable[str]:
    for note in notes:
        yield json.dumps(note, ensure_ascii=False) + "\n"
