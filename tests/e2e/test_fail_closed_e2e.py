"""Fail closed on the embedded broker: one poison message among good ones, and the security review's inputs.

- Issue 14: a signed JSON record whose note holds a lone UTF-16 surrogate escape, among 200 good records:
  200 outputs, one dead letter (``invalid-unicode``), the same worker process throughout.
- Issue 20: 40 good records, an unsigned header bomb (one-byte value, 8,000 empty headers with
  120-character names, about 1 MB), a signed record with a 5,000-digit integer and a 99-year-old's record:
  41 outputs, two dead letters, the same worker process, and no birth year of the 99-year-old anywhere.
"""

from __future__ import annotations

import json
import re

import pytest

from pipeline.devtools.inputs import SignedInput, encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.stream.clients import decode_output
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _good(registry, keyring, count, seed):
    entry = registry.get("clinical_record")
    records = list(synthetic_records(count, seed=seed))
    encodings = ("avro", "json")
    return entry, [
        signed_input(keyring, entry.ref, encode_record(entry, r.record, encodings[i % 2]), r.key)
        for i, r in enumerate(records)
    ]


def _run(settings, inputs, expected_ids, tmp_path, audit_events):
    log = tmp_path / "worker.log"
    with worker_process(settings, log) as worker:
        pid = worker.pid
        send(settings, inputs)
        outputs = read_outputs(settings, expected_ids, timeout=300, audit_events=audit_events)
        alive = worker.poll() is None
    assert alive and worker.pid == pid, log_tail(log)
    text = log.read_text(errors="replace")
    assert "exiting without committing" not in text, log_tail(log)
    return outputs, text


def test_poison_record_among_200_good_ones(topic_settings, registry, keyring, tmp_path):
    entry, good = _good(registry, keyring, 200, seed=141)
    record = next(synthetic_records(1, seed=142)).record
    raw = json.dumps(dict(record, note="Pt seen \ud800 today")).encode()
    assert b"\\ud800" in raw
    poison = signed_input(keyring, entry.ref, raw, record["record_id"])
    inputs = [*good[:100], poison, *good[100:]]
    outputs, _ = _run(topic_settings, inputs, {i.message_id for i in inputs}, tmp_path, len(inputs))
    redacted = [m for m in outputs if m.topic == topic_settings.topic_redacted]
    dead = [m for m in outputs if m.topic == topic_settings.topic_deadletter]
    assert len(redacted) == 200 and {message_id(m) for m in redacted} == {g.message_id for g in good}
    assert len(dead) == 1 and message_id(dead[0]) == poison.message_id
    letter = decode_output(registry, dead[0])
    assert (letter["reason"], letter["stage"]) == ("invalid-unicode", "decode")
    print(f"\npoison e2e: inputs={len(inputs)} outputs={len(redacted)} dead_letters={len(dead)} worker_restarts=0")


def _header_bomb() -> SignedInput:
    headers = [("phi-message-id", b"msg-header-bomb-0001")]
    headers += [(f"x-bomb-{i:05d}-" + "h" * 107, b"") for i in range(8_000)]
    assert all(len(name) == 120 for name, _ in headers[1:])
    return SignedInput("msg-header-bomb-0001", None, b"x", headers)


def test_security_review_inputs_on_the_broker(topic_settings, registry, keyring, tmp_path):
    entry, good = _good(registry, keyring, 40, seed=143)
    base = next(synthetic_records(1, seed=144)).record
    huge = json.dumps(base).encode().replace(b'"age": ', b'"age": ' + b"9" * 5_000 + b', "_pad": ', 1)
    huge_input = signed_input(keyring, entry.ref, huge, base["record_id"])
    elder = dict(
        base,
        record_id="ENC-ELDER-0099",
        age=99,
        date_of_birth="1925-03-01",
        admission_date="2024-05-02",
        discharge_date="2024-05-09",
        note="99 yo woman, born in 1925 (DOB 03/01/1925), admitted 05/02/2024 after a fall; lives alone since 1990.",
    )
    elder_input = signed_input(keyring, entry.ref, encode_record(entry, elder, "json"), elder["record_id"])
    bomb = _header_bomb()
    inputs = [*good[:20], bomb, huge_input, elder_input, *good[20:]]
    expected = {i.message_id for i in inputs}
    outputs, _ = _run(topic_settings, inputs, expected, tmp_path, len(inputs))
    redacted = [m for m in outputs if m.topic == topic_settings.topic_redacted]
    dead = {message_id(m): decode_output(registry, m) for m in outputs if m.topic == topic_settings.topic_deadletter}
    assert len(redacted) == 41
    assert {message_id(m) for m in redacted} == {g.message_id for g in good} | {elder_input.message_id}
    assert set(dead) == {bomb.message_id, huge_input.message_id}
    assert dead[huge_input.message_id]["reason"] == "number-too-large"
    bomb_letter = dead[bomb.message_id]
    assert bomb_letter["reason"] == "hmac-missing"
    assert bomb_letter["message_id"].startswith("derived-") and bomb_letter["claimed_message_id"] == bomb.message_id
    assert len(bomb_letter["header_names"]) <= 32
    # The birth year as a value of its own: not four digits inside a hash, token or ciphertext (a SHA-256
    # hex digest or base64 text can spell '1925' by chance, and once did in an audit event's hash).
    birth = re.compile(r"(?<![0-9A-Za-z+])1925(?![0-9A-Za-z+/])")
    for m in outputs:
        where = f"{m.topic}/{m.partition}/{m.offset}"
        decoded = decode_output(registry, m)
        # Sealed originals are AES-GCM ciphertext in base64: four random characters can spell anything.
        visible = {k: v for k, v in decoded.items() if not k.startswith("sealed_")}
        assert not birth.search(json.dumps(visible, default=str)), where
        if m.topic != topic_settings.topic_deadletter:
            raw = (m.value or b"").decode("utf-8", "replace") + " " + (m.key or b"").decode("utf-8", "replace")
            assert not birth.search(raw), where
    elder_out = next(decode_output(registry, m) for m in redacted if message_id(m) == elder_input.message_id)
    assert (elder_out["age"], elder_out["date_of_birth"], elder_out["admission_date"]) == ("90+", "90+", "90+")
    assert "1990" not in elder_out["note"]  # no year survives in the note of a patient aged 90+
    sizes = [len(m.value or b"") for m in outputs]
    print(
        f"\nsecurity e2e: inputs={len(inputs)} outputs={len(redacted)} dead_letters={len(dead)} "
        f"largest_output_bytes={max(sizes)} worker_restarts=0"
    )
