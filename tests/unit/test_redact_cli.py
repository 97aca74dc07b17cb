"""``phi-pipeline redact``: files through the worker's own de-identifier, outside Kafka (no signing, no envelope)."""

from __future__ import annotations

import argparse
import json
import os

from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces import format_commands

HL7 = (
    "MSH|^~\\&|LAB|GENERAL|EHR|GENERAL|20240314120000||ORU^R01|MSG1|P|2.5\n"
    "PID|1||4471902^^^GENERAL^MR||Whitfield^Jonas\n"
)


def _run(tmp_path, monkeypatch, input_format: str, text: str) -> int:
    for name in [n for n in os.environ if n.startswith("PHI_")]:
        monkeypatch.delenv(name)
    source = tmp_path / "in.txt"
    source.write_text(text)
    parser = argparse.ArgumentParser()
    format_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["redact", "--format", input_format, "--ephemeral-keys", "--rules-only", str(source)])
    return args.func(args)


def test_redact_writes_each_input_and_names_a_bad_one_by_number(tmp_path, monkeypatch, capsys):
    assert _run(tmp_path, monkeypatch, "hl7v2", f"{HL7}\nMSH|not a message\n\n{HL7}") == 1
    out, err = capsys.readouterr()
    messages = ["MSH|" + block for block in out.split("MSH|") if block.strip()]
    assert len(messages) == 2 and "\n" not in out  # HL7 v2 output: segments end with a carriage return
    assert "Whitfield" not in out and "4471902" not in out
    assert "input 2:" in err and "not a message" not in err


def test_redact_jsonl_records_come_out_as_their_deidentified_schema(tmp_path, monkeypatch, capsys):
    record = dict(next(synthetic_records(1, seed=9)).record, note="Rosa Delgado, 617-555-0142.")
    assert _run(tmp_path, monkeypatch, "jsonl", json.dumps(record) + "\n") == 0
    [line] = capsys.readouterr().out.splitlines()
    out = json.loads(line)
    assert out["message_id"] == "redact-1" and out["source_schema"].startswith("clinical_record:")
    assert out["patient_name"] is None and out["mrn"].startswith("tok:")
    assert "Rosa" not in out["note"] and "617-555-0142" not in out["note"]
    assert any(t["field"] == "patient_name" and t["action"] == "redact" for t in out["phi_transformations"])
