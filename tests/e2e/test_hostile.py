"""Hostile input at scale, and leak canaries, on the real broker.

Every kind of bad payload and bad signature, plus valid records built to trip a parser (NUL bytes,
control and bidirectional characters, homoglyph names, a 200 KB note, a 10 MB message, a duplicated
message id), interleaved with ordinary records. All carry canary PHI values that exist nowhere else.
The worker runs with DEBUG logging. Afterwards: every input is an output or a dead letter, the worker
never crashed, and no canary appears in any topic (decoded or raw), in the worker's log, or on /metrics.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import replace

import pytest

from pipeline.devtools.inputs import SignedInput, encode_record, hostile_messages, signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS, synthetic_records
from pipeline.interfaces.embedded_broker import free_port
from pipeline.stream.clients import decode_output
from tests.conftest import isolated_settings
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ROUNDS = 3  # each round: every hostile kind once, with fresh ids


def _canary_record(i: int, base: dict) -> tuple[dict, list[str]]:
    first, last = f"Qzxcanary{i}", f"Vexlertest{i}"
    record = dict(
        base,
        patient_name=f"{first} {last}",
        ssn=f"9{i:02d}-4{i % 10}-7{i:03d}",
        mrn=f"CANMRN{i:05d}",
        phone=f"(555) 01{i % 10}-{4000 + i}",
        email=f"{first.lower()}@example.org",
    )
    planted = [record["patient_name"], first, last, record["ssn"], record["mrn"], record["phone"], record["email"]]
    return record, planted


def _weird_notes(record: dict) -> dict[str, str]:
    name, phone, mrn = record["patient_name"], record["phone"], record["mrn"]
    first, last = name.split()
    homoglyph = first.replace("a", "\u0430").replace("e", "\u0435").replace("o", "\u043e")
    return {
        "nul-bytes": f"Pt {name}\x00 seen; MRN {mrn}\x00\x00 call {phone}.",
        "control-and-bidi": f"Pt \u202a{name}\u202c\u200b called from\u2066 {phone}\u2069; MRN\u00a0{mrn}\x07.",
        "homoglyph-name": f"{homoglyph} {last} reports pain; MRN {mrn}.",
        "huge-note": (" ".join(FINDINGS) + " ") * 600 + f" Seen by {name}, MRN {mrn}, call {phone}.",
    }


def test_hostile_inputs_at_scale_and_no_canary_anywhere(base_settings, broker, registry, keyring, tmp_path):
    settings = isolated_settings(base_settings, broker, "hostile").with_overrides(
        metrics_port=free_port(), log_level="DEBUG"
    )
    entry = registry.get("clinical_record")
    base_records = list(synthetic_records(200, seed=77))
    planted: list[str] = []
    inputs: list[SignedInput] = []
    expected_reason: dict[str, str] = {}
    kinds_tried: set[str] = set()
    for i, synthetic in enumerate(base_records):
        record, values = _canary_record(i, synthetic.record)
        planted += values
        inputs.append(
            signed_input(keyring, entry.ref, encode_record(entry, record, ("avro", "json")[i % 2]), record["record_id"])
        )
        if i < ROUNDS:
            for hostile in hostile_messages(keyring, entry, record, record["record_id"], settings.max_message_bytes):
                inputs.append(hostile.message)
                kinds_tried.add(hostile.kind)
                if hostile.expected_reason != "message-id-missing":
                    expected_reason[hostile.message.message_id] = hostile.expected_reason
            for kind, note in _weird_notes(record).items():
                weird = dict(record, note=note)
                inputs.append(
                    signed_input(keyring, entry.ref, encode_record(entry, weird, "avro"), record["record_id"])
                )
                kinds_tried.add(kind)
            ten_mb = signed_input(keyring, entry.ref, b"{" + b" " * (10 * 1024 * 1024) + b"}", record["record_id"])
            inputs.append(ten_mb)
            expected_reason[ten_mb.message_id] = "oversized"
            kinds_tried.add("ten-megabytes")
    duplicate = replace(inputs[0])  # the same message id and bytes sent twice
    inputs.append(duplicate)
    kinds_tried.add("duplicate-message-id")

    log = tmp_path / "worker.log"
    with worker_process(settings, log) as worker:
        send(settings, inputs)
        with_id = {i.message_id for i in inputs if any(n == "phi-message-id" for n, _ in i.headers)}
        outputs = read_outputs(settings, with_id, timeout=300)
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5) as r:
            metrics_text = r.read().decode()
        crashed = worker.poll() is not None
    assert not crashed, log_tail(log)

    seen = {message_id(m) for m in outputs if m.topic in (settings.topic_redacted, settings.topic_deadletter)}
    missing = with_id - seen
    assert not missing, f"{len(missing)} inputs unaccounted for\n{log_tail(log)}"
    letters = {message_id(m): decode_output(registry, m) for m in outputs if m.topic == settings.topic_deadletter}
    wrong = {k: (letters[k]["reason"], v) for k, v in expected_reason.items() if letters[k]["reason"] != v}
    assert not wrong, wrong
    redacted_ids = [message_id(m) for m in outputs if m.topic == settings.topic_redacted]
    assert redacted_ids.count(duplicate.message_id) == 2  # both copies processed, same id: consumers dedupe

    scanner = LeakScanner(planted, benign=" ".join(FINDINGS + DRUGS))
    texts = [("metrics", metrics_text), ("worker-log", log.read_text(errors="replace"))]
    for m in outputs:
        where = f"{m.topic}/{m.partition}/{m.offset}"
        texts.append((where, json.dumps(decode_output(registry, m), default=str, ensure_ascii=False)))
        texts.append((where + "/raw", (m.value or b"").decode("utf-8", "replace")))
        texts.append((where + "/key", (m.key or b"").decode("utf-8", "replace")))
    leaks = scanner.scan_all(texts)
    print(
        f"\nhostile: inputs={len(inputs)} kinds={len(kinds_tried)} dead_letters={len(letters)} "
        f"crashes={int(crashed)} canaries={scanner.size} canaries_found={len(leaks)}"
    )
    assert not leaks, f"{len(leaks)} canaries found, first in {leaks[0].location}: value #{leaks[0].value_index}"
    log_text = log.read_text(errors="replace")
    assert "DEBUG" in log_text  # the log really was at debug level
    for key in keyring.keys():  # secrets hygiene: no key material in the log, in any common encoding
        for encoded in (
            base64.b64encode(key.material).decode(),
            key.material.hex(),
            base64.urlsafe_b64encode(key.material).decode(),
        ):
            assert encoded not in log_text and encoded not in metrics_text
