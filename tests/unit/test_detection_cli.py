"""The detect and eval subcommands, driven through an argparse parser as the main CLI does."""

import argparse
import io
import json

import pytest

from pipeline.interfaces import detect_commands


def parse(argv):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command", required=True)
    detect_commands.register(subparsers)
    return parser.parse_args(argv)


RECORDS = [
    {"id": "r1", "text": "Patient: John Doe, SSN 123-45-6780."},
    {"id": "r2", "text": "No identifiers here."},
]


def test_detect_writes_spans(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    out = tmp_path / "out.jsonl"
    args = parse(["detect", str(source), "-o", str(out)])
    assert args.func(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["r1", "r2"]
    assert {s["type"] for s in rows[0]["spans"]} == {"NAME", "SSN"}
    assert rows[1]["spans"] == []
    assert set(rows[0]["spans"][0]) == {"start", "end", "type", "score"}


def test_detect_redact_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((json.dumps(RECORDS[0]) + "\n").encode())))
    args = parse(["detect", "--redact"])
    assert args.func(args) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "Patient: [NAME], SSN [SSN]."
    assert row["text"][row["spans"][1]["start"] : row["spans"][1]["end"]] == "[SSN]"


def test_detect_bad_line_is_reported_without_content(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "ok"}\nnot json 123-45-6780\n')
    args = parse(["detect", str(source), "-o", str(tmp_path / "o.jsonl")])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "123-45-6780" not in err


def test_eval_prints_table_and_writes_files(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    text = "Patient: John Doe, SSN 123-45-6780, seen by Dr. Who."
    spans = [
        {"start": 9, "end": 17, "type": "NAME"},
        {"start": 23, "end": 34, "type": "SSN"},
        {"start": 48, "end": 51, "type": "NAME"},
    ]
    corpus.write_text(json.dumps({"id": "a", "text": text, "spans": spans}) + "\n")
    missed, figures = tmp_path / "missed.jsonl", tmp_path / "figures.json"
    args = parse(
        ["eval", "--corpus", str(corpus), "--format", "jsonl", "--missed", str(missed), "--json", str(figures)]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "SSN" in out and "strict" in out
    payload = json.loads(figures.read_text())
    assert payload["per_type"]["SSN"]["strict"]["recall"] == 1.0
    assert payload["documents"] == 1


def test_eval_missing_corpus_is_exit_2(tmp_path, capsys):
    args = parse(["eval", "--corpus", str(tmp_path / "nope.jsonl"), "--format", "jsonl"])
    assert args.func(args) == 2
    assert "no such file" in capsys.readouterr().err


def test_eval_rejects_unknown_format():
    with pytest.raises(SystemExit):
        parse(["eval", "--corpus", "x", "--format", "csv"])
