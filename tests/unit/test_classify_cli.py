"""``phi-pipeline classify``: JSONL notes in, categories above threshold out, through the real command line."""

from __future__ import annotations

import io
import json

from pipeline.interfaces.cli import main

NOTES = [
    {"id": "sud", "text": "Hx opioid use disorder, on buprenorphine-naloxone 16 mg daily, UDS positive for fentanyl."},
    {"id": 2, "text": "Pt ambulating in hallway with walker, tolerating regular diet, pain 2/10."},
    {"id": "hiv", "text": "HIV on Biktarvy, viral load undetectable, CD4 720. Started PrEP for partner discussed."},
]


def test_classify_writes_categories_over_threshold_per_note(tmp_path, capsys):
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps(n) + "\n" for n in NOTES), encoding="utf-8")
    assert main(["classify", str(source), "--all-scores"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["id"] for r in rows] == ["sud", 2, "hiv"]
    assert "substance_use" in {c["category"] for c in rows[0]["categories"]}
    assert rows[1]["categories"] == []
    assert "hiv_sti" in {c["category"] for c in rows[2]["categories"]}
    for row in rows:
        assert set(row) == {"id", "categories", "scores"} and len(row["scores"]) == 6
        assert [c["score"] for c in row["categories"]] == sorted((c["score"] for c in row["categories"]), reverse=True)
    assert "model_quantized.onnx@sha256:" in captured.err


def test_classify_reads_standard_input_and_stops_at_a_bad_line_without_quoting_it(monkeypatch, capsys):
    data = json.dumps(NOTES[1]) + "\n" + "not json: Jane Roe 123-45-6780\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    assert main(["classify", "-"]) == 2
    captured = capsys.readouterr()
    assert [json.loads(line)["id"] for line in captured.out.splitlines()] == [2]  # the line before it is written
    assert "line 2" in captured.err and "Jane" not in captured.err and "123-45" not in captured.err


def test_classify_skip_invalid_and_missing_model(tmp_path, capsys):
    source = tmp_path / "notes.jsonl"
    source.write_bytes(b'{"id": 1, "text": "ok"}\n\xff\xfe latin-1\n{"id": 3, "text": 4}\n')
    assert main(["classify", str(source), "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["id"] for line in captured.out.splitlines()] == [1]
    assert "classify: skipped 2 invalid lines: 2, 3" in captured.err
    assert main(["classify", str(source), "--model", str(tmp_path / "none")]) == 2
    assert "PHI_SENSITIVE_MODEL" in capsys.readouterr().err
