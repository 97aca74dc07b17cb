"""Dead-letter replay through the command line, on the real broker (reveal: test_reveal_service.py)."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.messages import InboundMessage
from pipeline.devtools.inputs import encode_record, hostile_messages, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.runtime.assembly import build_processor
from pipeline.stream.clients import Outgoing, consume, decode_output, produce
from pipeline.stream.reading import read_to_end
from tests.e2e.cli import run_cli
from tests.e2e.helpers import message_id, read_outputs, send, worker_process

pytestmark = [pytest.mark.broker]


def test_replayed_dead_letters_are_the_original_bytes(topic_settings, keyring, registry, tmp_path):
    bad, good = _schema_unknown(keyring, registry, topic_settings)
    with worker_process(topic_settings, tmp_path / "worker.log"):
        send(topic_settings, bad + good)
        first = read_outputs(topic_settings, {m.message_id for m in bad + good}, timeout=90)
        letters = [m for m in first if m.topic == topic_settings.topic_deadletter]
        assert {message_id(m) for m in letters} == {m.message_id for m in bad}
        replay = run_cli(topic_settings, "deadletter", "replay", "--reason", "schema-unknown", "--timeout", "10")
        assert replay.returncode == 0, replay.stderr
        assert f"{len(bad)} dead letters replayed" in replay.stdout

        def twice(found):
            ids = [message_id(m) for m in found if m.topic == topic_settings.topic_deadletter]
            return all(ids.count(m.message_id) >= 2 for m in bad)

        again = asyncio.run(consume(topic_settings, [topic_settings.topic_deadletter], until=twice, timeout=60))
    ids = [message_id(m) for m in again]
    assert all(ids.count(m.message_id) == 2 for m in bad)  # same id, same bytes, same verdict
    originals = {m.message_id: m.value for m in bad}
    encryptor = Encryptor(keyring)
    for message in again:
        letter = decode_output(registry, message)
        opened = encryptor.open_bytes(letter["sealed_value"], letter["message_id"], context="deadletter/value")
        assert opened == originals[letter["message_id"]]


def _schema_unknown(keyring, registry, settings):
    """Signed inputs that name an unknown schema (dead-lettered, replayable), and one good record."""
    entry = registry.get("clinical_record")
    record = next(synthetic_records(1, seed=3)).record
    bad = [
        h.message
        for h in hostile_messages(keyring, entry, record, "k", settings.max_message_bytes)
        if h.expected_reason == "schema-unknown"
    ]
    return bad, [signed_input(keyring, entry.ref, encode_record(entry, record, "avro"), "k")]


def _letters(settings) -> list:
    read = asyncio.run(read_to_end(settings, [settings.topic_deadletter], timeout=30))
    assert read.complete, read.describe_short()
    return read.messages


def test_replay_is_idempotent(topic_settings, keyring, registry, tmp_path):
    """Issue 20 #7: three plain replays went 3 -> 6 -> 12 letters; now the second and third replay nothing."""
    bad, good = _schema_unknown(keyring, registry, topic_settings)
    with worker_process(topic_settings, tmp_path / "worker.log"):
        send(topic_settings, bad + good)
        read_outputs(topic_settings, {m.message_id for m in bad + good}, timeout=90)
        runs = [run_cli(topic_settings, "deadletter", "replay", "--timeout", "30")]

        def rejected_again(found):
            return len([m for m in found if m.topic == topic_settings.topic_deadletter]) >= 2 * len(bad)

        asyncio.run(consume(topic_settings, [topic_settings.topic_deadletter], until=rejected_again, timeout=60))
        runs += [run_cli(topic_settings, "deadletter", "replay", "--timeout", "30") for _ in range(2)]
        again = run_cli(topic_settings, "deadletter", "replay", "--again", "--dry-run", "--timeout", "30")
        letters = _letters(topic_settings)  # read to the end, after the worker had time for any replay
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    replayed = [next(line for line in r.stdout.splitlines() if "dead letters replayed" in line) for r in runs]
    print(f"\nreplay runs: {[line.split()[0] for line in replayed]} replayed; {len(letters)} dead letters in the topic")
    assert f"{len(bad)} dead letters replayed" in runs[0].stdout
    for later in runs[1:]:
        assert "0 dead letters replayed" in later.stdout
        assert f"{2 * len(bad)} dead letters skipped: their original was replayed before" in later.stdout
    assert again.returncode == 0 and f"{len(bad)} dead letters selected" in again.stdout, again.stdout + again.stderr
    assert len(letters) == 2 * len(bad)
    audits = asyncio.run(consume(topic_settings, [topic_settings.topic_audit], timeout=30, idle_timeout=3.0))
    replays = [e for e in (decode_output(registry, m) for m in audits) if e["event_type"] == "deadletter_replayed"]
    assert sorted(e["message_id"] for e in replays) == sorted(m.message_id for m in bad)
    assert all(e["details"]["original"].startswith("v1:deadletter-v1:") for e in replays)
    verified = run_cli(topic_settings, "audit", "verify", "--timeout", "30")
    assert verified.returncode == 0 and "audit chains verified" in verified.stdout, verified.stdout + verified.stderr


def test_operator_tools_report_and_skip_foreign_records(topic_settings, base_settings, keyring, registry):
    """Issue 20 #8: one unsigned junk record in each topic stopped the tools (KeyError: 'sealed_value')."""
    bad, good = _schema_unknown(keyring, registry, topic_settings)
    processor = build_processor(base_settings.with_overrides(detector_model=None, rules_only=True), keyring)
    inputs = enumerate(bad + good)
    inbound = [InboundMessage(i.value, i.key, tuple(i.headers), "phi.ingest", 0, n, 0) for n, i in inputs]
    outputs = [out for result in processor.process_batch(inbound) for out in result.outputs]
    topics = {"deadletter": topic_settings.topic_deadletter, "audit": topic_settings.topic_audit}
    letter_schema = registry.get("dead_letter").ref
    junk = [
        Outgoing(None, b"\x00junk", []),  # no headers at all
        Outgoing(None, b"\x02\x03", [("phi-message-id", b"m-junk"), ("phi-schema", letter_schema.encode())]),
    ]
    for role, topic in topics.items():
        mine = [Outgoing(o.key, o.value, o.headers) for o in outputs if o.role == role]
        asyncio.run(produce(topic_settings, topic, [junk[0], *mine, junk[1]]))
    dry = run_cli(topic_settings, "deadletter", "replay", "--dry-run", "--timeout", "30")
    verify = run_cli(topic_settings, "audit", "verify", "--timeout", "30")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"{len(bad)} dead letters selected" in dry.stdout and "4 record(s) skipped" in dry.stdout
    assert dry.stderr.count("fails egress verification") == 4, dry.stderr  # it reads both topics
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit chains verified" in verify.stdout and "2 record(s) skipped" in verify.stdout
    assert "message-id-missing" in verify.stderr and "hmac-missing" in verify.stderr


def test_reader_reaches_the_end_offsets_it_captured(topic_settings):
    """Issue 20 #9, on the real broker: a full read is complete (tansu's low end offsets do not cut it
    short) and a read given no time is not."""
    sent = [Outgoing(str(i % 5).encode(), b"x" * 200, []) for i in range(900)]
    asyncio.run(produce(topic_settings, topic_settings.topic_audit, sent))
    full = asyncio.run(read_to_end(topic_settings, [topic_settings.topic_audit], timeout=60))
    assert full.complete and len(full.messages) == len(sent) and sum(full.positions.values()) == len(sent)
    cut = asyncio.run(read_to_end(topic_settings, [topic_settings.topic_audit], timeout=0))
    assert not cut.complete and cut.describe_short()
