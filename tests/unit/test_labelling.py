"""Label Studio round trip: ``label export`` tasks, Label Studio's JSON and JSON-MIN exports back to the corpus.

The fixtures in tests/unit/data/label_studio are synthetic notes in Label Studio's documented task format;
``export_min.json`` was written from them by label-studio-converter 0.0.59 (see the README there)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.interfaces.cli import main
from pipeline.modelbuild.corpus import Split, generate, jsonl_lines
from pipeline.modelbuild.labelling import (
    FROM_NAME,
    TO_NAME,
    LabelStudioFormatError,
    label_config,
    read_export,
    task,
)

DATA = Path(__file__).parent / "data" / "label_studio"


def _gold(note) -> list[dict]:
    return [{"start": s.start, "end": s.end, "type": s.type.value} for s in note.spans]


def test_export_is_label_studio_pre_annotation_format_with_a_matching_interface():
    text = "Seen by Dr. Ann Lee at Mercy Hospital on 3/4/2021."
    out = task("n1", text, [Span(12, 19, PhiType.NAME, 0.9, "m"), Span(41, 49, PhiType.DATE, 0.7, "r")], "v1")
    assert out["data"] == {"text": text, "note_id": "n1"}
    (prediction,) = out["predictions"]
    assert prediction["model_version"] == "v1" and prediction["score"] == pytest.approx(0.8)
    first = prediction["result"][0]
    assert first["from_name"] == FROM_NAME and first["to_name"] == TO_NAME and first["type"] == "labels"
    assert first["value"] == {"start": 12, "end": 19, "text": "Ann Lee", "labels": ["NAME"]}
    root = ET.fromstring(label_config())  # noqa: S314 - our own XML
    labels = root.find("Labels")
    assert labels.get("name") == FROM_NAME and labels.get("toName") == TO_NAME
    assert {label.get("value") for label in labels} == {t.value for t in PhiType}
    assert root.find("Text").get("value") == "$" + TO_NAME


def test_gold_spans_survive_export_labelling_and_import():
    notes = generate(6, seed=13, split=Split.HELDOUT)
    tasks = []
    for note in notes:
        spans = [Span(s.start, s.end, s.type, 1.0, "gold") for s in note.spans]
        exported = task(note.id, note.text, spans, "gold")
        accepted = [dict(r, origin="prediction") for r in exported["predictions"][0]["result"]]
        tasks.append({"id": len(tasks) + 1, **exported, "annotations": [{"id": 1, "result": accepted}]})
    imported = read_export(json.loads(json.dumps(tasks)))
    expected = [
        {"id": n.id, "text": n.text, "spans": sorted(_gold(n), key=lambda s: (s["start"], s["end"]))} for n in notes
    ]
    assert imported.notes == expected and imported.unlabelled == []


def test_label_studio_json_export_uses_ground_truth_else_latest_and_skips_unlabelled():
    export = json.loads((DATA / "export.json").read_text(encoding="utf-8"))
    imported = read_export(export)
    assert [n["id"] for n in imported.notes] == ["heldout-13-0", "heldout-13-1"]
    assert imported.unlabelled == ["103"]
    notes = generate(2, seed=13, split=Split.HELDOUT)
    assert imported.notes[0]["spans"] == _gold(notes[0])[1:]  # the labeller deleted the first predicted span
    assert imported.notes[1]["spans"] == _gold(notes[1])  # the ground-truth annotation, not the newer partial one


def test_json_min_written_by_label_studio_converter_reads_back():
    imported = read_export(json.loads((DATA / "export_min.json").read_text(encoding="utf-8")))
    full = read_export(json.loads((DATA / "export.json").read_text(encoding="utf-8")))
    assert [n["id"] for n in imported.notes] == [n["id"] for n in full.notes]
    assert imported.notes[0] == full.notes[0]
    assert len(imported.notes[1]["spans"]) == 1  # no ground-truth flag in JSON-MIN: the latest annotation
    assert imported.unlabelled == ["103"]


def test_utf16_offsets_of_older_exports_are_converted():
    text = "pt \U0001f600 seen by Lee"
    result = {
        "from_name": "label",
        "type": "labels",
        "value": {"start": 14, "end": 17, "text": "Lee", "labels": ["NAME"]},
    }
    imported = read_export([{"id": 1, "data": {"text": text}, "annotations": [{"result": [result]}]}])
    assert imported.notes[0]["spans"] == [{"start": 13, "end": 16, "type": "NAME"}]


def test_a_span_that_does_not_hold_its_text_names_the_task_never_the_text():
    result = {
        "from_name": "label",
        "type": "labels",
        "value": {"start": 0, "end": 4, "text": "Zed", "labels": ["NAME"]},
    }
    with pytest.raises(LabelStudioFormatError) as caught:
        read_export([{"id": 7, "data": {"text": "Mary walked"}, "annotations": [{"result": [result]}]}])
    assert "task 7 result 0" in str(caught.value)
    assert "Mary" not in str(caught.value) and "Zed" not in str(caught.value)


def test_cli_round_trip_and_one_line_errors(tmp_path, capsys):
    notes = generate(3, seed=13, split=Split.HELDOUT)
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(jsonl_lines(notes)), encoding="utf-8")
    tasks, config = tmp_path / "tasks.json", tmp_path / "config.xml"
    assert main(["label", "export", str(source), "-o", str(tasks), "--config-out", str(config), "--rules-only"]) == 0
    assert tasks.stat().st_mode & 0o077 == 0  # holds notes: owner only
    exported = json.loads(tasks.read_text(encoding="utf-8"))
    assert [t["data"]["note_id"] for t in exported] == [n.id for n in notes]
    for t in exported:  # the labeller accepts every prediction
        t["annotations"] = [{"result": t["predictions"][0]["result"]}]
    tasks.write_text(json.dumps(exported), encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    assert main(["label", "import", str(tasks), "-o", str(corpus)]) == 0
    back = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    assert [b["text"] for b in back] == [n.text for n in notes]
    assert [len(b["spans"]) for b in back] == [len(t["predictions"][0]["result"]) for t in exported]
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["label", "import", str(bad), "-o", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("label import: bad.json")
