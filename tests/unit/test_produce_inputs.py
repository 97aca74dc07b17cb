"""`phi-pipeline produce` input building: synthetic, JSONL and Avro container files, all signed."""

from __future__ import annotations

import argparse
import json

import fastavro
import pytest

from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.errors import ConfigError
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces.stream_commands import build_inputs


def _args(**kw):
    defaults = {"file": None, "count": 3, "bad": 0, "encoding": "avro", "seed": 1, "no_notes": False}
    return argparse.Namespace(**{**defaults, **kw})


def test_synthetic_jsonl_and_avro_files_are_signed(base_settings, keyring, registry, tmp_path):
    records = [r.record for r in synthetic_records(4, seed=2)]
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    avro = tmp_path / "records.avro"
    with avro.open("wb") as handle:
        fastavro.writer(handle, registry.get("clinical_record").parsed, records)
    for args, expected in (
        (_args(), 3),
        (_args(file=jsonl, encoding="json"), 4),
        (_args(file=avro), 4),
        (_args(count=2, bad=5), 7),
    ):
        inputs = build_inputs(base_settings, args)
        assert len(inputs) == expected
        for item in inputs[: expected - args.bad]:
            verify_headers(keyring, KeyPurpose.INGEST_HMAC, item.headers, item.key, item.value)
    keys = [i.key for i in build_inputs(base_settings, _args(file=jsonl, encoding="json"))]
    assert keys == [r["record_id"].encode() for r in records]


def test_a_bad_jsonl_line_names_its_line(base_settings, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"record_id": "x"}\n{not json\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2"):
        build_inputs(base_settings, _args(file=bad))
