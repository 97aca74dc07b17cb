"""The pipeline's promises on the real broker, from one run of a real worker process.

1,000 signed records over 4 partitions (Avro, JSON and Confluent wire format), 6% hostile payloads
of every kind, 50 tampered and 20 signed with an unknown key id. Then: every input accounted for,
dead letters with the right reasons and decryptable originals, every output signed, one audit event
per input with verifiable chains, and no planted PHI value anywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace

import pytest

from pipeline.core.codecs import decode_avro, encode_avro
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import Key, KeyPurpose, Keyring
from pipeline.core.messages import signed_output
from pipeline.devtools.inputs import SignedInput, encode_record, hostile_messages, signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS, SyntheticRecord, synthetic_records
from pipeline.interfaces.embedded_broker import free_port
from pipeline.stream.clients import Consumed, Outgoing, decode_output, produce
from tests.conftest import isolated_settings
from tests.e2e.cli import run_cli
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RECORDS = 1000
TAMPERED = 50
UNKNOWN_KEY = 20


@dataclass
class Run:
    settings: object
    records: list[SyntheticRecord]
    good: list[SignedInput]
    expected_reason: dict[str, str]
    anonymous: int
    originals: dict[str, bytes]
    outputs: list[Consumed]
    seconds: float
    endpoints: dict[str, tuple[int, str]]

    def on(self, topic: str) -> list[Consumed]:
        return [m for m in self.outputs if m.topic == topic]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback test URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _tampered(good: SignedInput, index: int) -> SignedInput:
    flipped = bytearray(good.value)
    flipped[index % len(flipped)] ^= 0x20
    return replace(good, value=bytes(flipped))


@pytest.fixture(scope="module")
def run(base_settings, broker, registry, keyring, tmp_path_factory) -> Run:
    settings = isolated_settings(base_settings, broker, "e2e-thousand").with_overrides(metrics_port=free_port())
    entry = registry.get("clinical_record")
    records = list(synthetic_records(RECORDS, seed=21))
    encodings = ("avro", "json", "confluent")
    good = [
        signed_input(keyring, entry.ref, encode_record(entry, r.record, encodings[i % 3]), r.key)
        for i, r in enumerate(records)
    ]
    hostile = []
    while len(hostile) < 60:  # each round has fresh message ids: every kind several times, no id reused
        kinds = hostile_messages(keyring, entry, records[len(hostile)].record, "bad-key", settings.max_message_bytes)
        hostile.extend((h.message, h.expected_reason) for h in kinds)
    extra = synthetic_records(TAMPERED + UNKNOWN_KEY, seed=99)
    foreign = Keyring([Key.new(KeyPurpose.INGEST_HMAC, 7)])
    for i, r in enumerate(extra):
        value = encode_record(entry, r.record, "avro")
        if i < TAMPERED:
            hostile.append((_tampered(signed_input(keyring, entry.ref, value, r.key), i * 7), "hmac-mismatch"))
        else:
            hostile.append((signed_input(foreign, entry.ref, value, r.key), "hmac-unknown-key"))
    # inputs without a phi-message-id header get an id derived from their offset: counted apart
    anonymous = sum(1 for m, _ in hostile if not any(name == "phi-message-id" for name, _ in m.headers))
    expected_reason = {m.message_id: reason for m, reason in hostile if reason != "message-id-missing"}
    log = tmp_path_factory.mktemp("e2e") / "worker.log"
    with worker_process(settings, log) as worker:
        send(settings, good + [m for m, _ in hostile])
        started = time.monotonic()
        expected = {g.message_id for g in good} | set(expected_reason)
        outputs = read_outputs(settings, expected, timeout=300, audit_events=len(good) + len(hostile))
        seconds = time.monotonic() - started
        assert worker.poll() is None, log_tail(log)
        base = f"http://127.0.0.1:{settings.metrics_port}"
        endpoints = {path: _get(base + path) for path in ("/metrics", "/healthz", "/readyz")}
    originals = {m.message_id: m.value for m, _ in hostile}
    return Run(settings, records, good, expected_reason, anonymous, originals, outputs, seconds, endpoints)


def test_every_input_is_exactly_one_output_or_dead_letter(run):
    s = run.settings
    expected = {g.message_id for g in run.good} | set(run.expected_reason)
    assert len(run.expected_reason) / len(expected) >= 0.05
    redacted, dead = run.on(s.topic_redacted), run.on(s.topic_deadletter)
    seen = Counter(message_id(m) for m in redacted + dead)
    derived = [mid for mid in seen if mid.startswith("derived-")]
    assert len(derived) == run.anonymous > 0
    for mid in derived:
        del seen[mid]
    missing = expected - set(seen)
    assert not missing, f"{len(missing)} of {len(expected)} inputs unaccounted for after {run.seconds:.0f} s"
    assert set(seen) == expected
    assert {message_id(m) for m in redacted} == {g.message_id for g in run.good}
    assert {message_id(m) for m in dead} - set(derived) == set(run.expected_reason)
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates == 0, f"{duplicates} duplicates without any crash"
    assert len({m.partition for m in redacted}) >= 4


def test_dead_letters_have_the_right_reason_and_sealed_originals(run, registry, keyring):
    letters = {message_id(m): decode_output(registry, m) for m in run.on(run.settings.topic_deadletter)}
    anonymous = {mid: letter for mid, letter in letters.items() if mid.startswith("derived-")}
    assert {letter["reason"] for letter in anonymous.values()} == {"message-id-missing"}
    letters = {mid: letter for mid, letter in letters.items() if mid not in anonymous}
    wrong = {
        mid: (letters[mid]["reason"], want)
        for mid, want in run.expected_reason.items()
        if letters[mid]["reason"] != want
    }
    assert not wrong, wrong
    hmac_failures = Counter(letters[mid]["reason"] for mid in letters if letters[mid]["stage"] == "verify")
    assert hmac_failures["hmac-mismatch"] >= TAMPERED and hmac_failures["hmac-unknown-key"] >= UNKNOWN_KEY
    encryptor = Encryptor(keyring)
    for mid, letter in letters.items():
        if letter["sealed_value"] is not None:
            # sealed under the letter's own id: the verified one, or for a message that failed
            # verification the id derived from its coordinates (the id it claimed is not trusted)
            sealed_under = letter["message_id"]
            assert sealed_under == mid or (sealed_under.startswith("derived-") and letter["claimed_message_id"] == mid)
            opened = encryptor.open_bytes(letter["sealed_value"], sealed_under, context="deadletter/value")
            assert opened == run.originals[mid]
        assert letter["value_size"] == len(run.originals[mid])


def test_every_output_is_signed_with_the_egress_key(run, keyring):
    for message in run.outputs:
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)


def test_no_planted_phi_value_in_any_output(run, registry):
    scanner = LeakScanner([v for r in run.records for v in r.planted], benign=" ".join(FINDINGS + DRUGS))
    assert scanner.size > RECORDS * 10
    texts: list[tuple[str, str]] = []
    for message in run.outputs:
        where = f"{message.topic}/{message.partition}/{message.offset}"
        texts.append((where, json.dumps(decode_output(registry, message), default=str)))
        texts.append((where + "/raw", (message.value or b"").decode("latin-1")))
        texts.append((where + "/key", (message.key or b"").decode("latin-1")))
        texts.append((where + "/headers", repr(message.headers)))
    leaks = scanner.scan_all(texts)
    assert not leaks, f"{len(leaks)} planted values found, first at {leaks[0].location}"


def test_records_keep_clinical_content_and_protect_phi(run, registry):
    entry = registry.get("clinical_record")
    first = run.on(run.settings.topic_redacted)[0]
    sample = decode_avro(registry.output_for(entry), first.value)
    assert sample["vitals"] is not None and sample["diagnosis_codes"]
    assert sample["patient_name"] is None and sample["ssn"].startswith("enc:") and sample["mrn"].startswith("tok:")
    assert any(t["field"] == "note" for t in sample["phi_transformations"])
    assert first.key.startswith(b"tok:")


def test_audit_trail_verifies_and_catches_an_edit_and_a_drop(run, registry, keyring, base_settings, broker):
    audits = sorted(run.on(run.settings.topic_audit), key=lambda m: (m.partition, m.offset))
    events = [decode_output(registry, m) for m in audits]
    letters = [decode_output(registry, m) for m in run.on(run.settings.topic_deadletter)]
    expected = {g.message_id for g in run.good} | {letter["message_id"] for letter in letters}
    assert {e["message_id"] for e in events} >= expected
    good = run_cli(run.settings, "audit", "verify", "--timeout", "20")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "audit chains verified" in good.stdout

    chain_id = events[len(events) // 2]["chain_id"]
    in_chain = [i for i, e in enumerate(events) if e["chain_id"] == chain_id]
    victim = in_chain[len(in_chain) // 2]
    # "edited": re-signed with the egress key (an insider without the audit key); "altered": not re-signed,
    # so verify skips it as a foreign record and the chain shows the gap it leaves.
    schema = registry.get("audit_event")
    for case, reason in (("edited", "edited"), ("altered", "gap"), ("dropped", "gap")):
        copy = isolated_settings(base_settings, broker, f"audit-{case}")
        forged = []
        for i, message in enumerate(audits):
            if i == victim and case == "dropped":
                continue
            headers = message.headers
            value = message.value
            if i == victim:
                event = dict(events[i], outcome="deadletter" if events[i]["outcome"] == "ok" else "ok")
                value = encode_avro(schema, event)
                if case == "edited":
                    headers = signed_output(keyring, "audit", message.key, value, event["event_id"], schema.ref).headers
            forged.append(Outgoing(message.key, value, headers))
        asyncio.run(produce(copy, copy.topic_audit, forged))
        bad = run_cli(copy, "audit", "verify", "--timeout", "20")
        assert bad.returncode == 1
        assert f"seq {events[victim]['seq']}" in bad.stdout or f"seq {events[victim]['seq'] + 1}" in bad.stdout
        assert reason in bad.stdout, bad.stdout
        if case == "altered":
            assert "1 record(s) skipped" in bad.stdout and "hmac-mismatch" in bad.stderr, bad.stdout + bad.stderr


def test_dead_letters_replay_to_the_input_topic(run, base_settings, broker):
    dry = run_cli(run.settings, "deadletter", "replay", "--reason", "hmac-mismatch", "--dry-run", "--timeout", "20")
    assert dry.returncode == 0, dry.stderr
    mismatched = sum(1 for reason in run.expected_reason.values() if reason == "hmac-mismatch")
    assert f"{mismatched} dead letters selected" in dry.stdout


def test_metrics_count_the_run_and_carry_no_phi(run):
    status, text = run.endpoints["/metrics"]
    assert status == 200
    processed = sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("phi_messages_total{")
    )
    assert processed == len(run.good) + len(run.expected_reason) + run.anonymous
    # every known label value is exported from the start (at zero): these must have counted something
    assert re.search(r'^phi_hmac_failures_total\{reason="hmac-mismatch"\} [1-9]', text, re.M)
    assert re.search(r'^phi_dead_letters_total\{reason="schema-unknown",stage="decode"\} [1-9]', text, re.M)
    assert 'phi_dead_letters_total{reason="invalid-hl7",stage="decode"} 0.0' in text
    assert "phi_build_info{" in text and "phi_entities_total{" in text and "phi_consumer_lag_messages{" in text
    assert 'phi_model_inference_seconds_count{model="model:detector"}' in text
    assert 'phi_stage_seconds_count{stage="detect"}' in text
    scanner = LeakScanner([v for r in run.records for v in r.planted])
    assert not scanner.scan(text, "/metrics")
    assert run.endpoints["/healthz"][0] == 200
    assert run.endpoints["/readyz"] == (200, "ready: 4 partitions\n")
