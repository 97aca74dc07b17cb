"""``phi-pipeline summarize``: notes redacted and summarized as the worker does, through the real command line."""

from __future__ import annotations

import json
import os

import pytest

from pipeline.interfaces.cli import main

NOTES = [
    {
        "id": "n1",
        "text": "NEURO: A&OX3. Wife Jane Roe called from 617-555-0134 on 3/14/2024.\n"
        "CV: HR 70-80 SR. To cath lab this am, 2 stents to LAD.\n"
        "RESP: 2L NC, sats 95%.\nPLAN: heparin gtt, transfer to floor tomorrow.",
    },
    {"id": 7, "text": "pt made DNR/DNI by family meeting with Dr. Smith today. comfort care, morphine gtt started."},
]


@pytest.fixture
def clean_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("PHI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PHI_RULES_ONLY", "true")  # the command's path, not the detector, is under test here
    monkeypatch.setenv("PHI_SENSITIVE_CLASSIFIER", "false")
    return monkeypatch


def test_summarize_redacts_first_and_writes_one_summary_per_note(clean_env, tmp_path, capsys):
    clean_env.setenv("PHI_SUMMARIZER", "extractive")
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps(n) + "\n" for n in NOTES), encoding="utf-8")
    out = tmp_path / "summaries.jsonl"
    assert main(["summarize", str(source), "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["n1", 7]
    for row in rows:
        assert set(row) == {"id", "summary", "method", "reason"}
        assert (row["method"], row["reason"]) == ("extractive", None)
        for value in ("Jane", "Roe", "617-555", "3/14/2024", "Smith"):
            assert value not in row["summary"]
    assert "cath lab" in rows[0]["summary"] and "transfer to floor" in rows[0]["summary"]
    assert "DNR/DNI" in rows[1]["summary"] or "comfort care" in rows[1]["summary"]  # code status, either way
    assert "extractive" in capsys.readouterr().err


def test_summarize_without_a_method_is_an_error_at_start(clean_env, tmp_path, capsys):
    source = tmp_path / "notes.jsonl"
    source.write_text(json.dumps(NOTES[0]) + "\n", encoding="utf-8")
    assert main(["summarize", str(source)]) == 2
    captured = capsys.readouterr()
    assert "PHI_SUMMARIZER=extractive" in captured.err and captured.out == ""
