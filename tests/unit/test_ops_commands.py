"""``audit verify`` judges the whole topic or nothing (issue 20 #9), and believes only signed records (#8).

The reader is replaced by one that returns a fixed read, so the verdict on a short read is tested
without timing a real broker into stopping early (the broker tests cover the real reader).
"""

from __future__ import annotations

import argparse

import pytest

from pipeline.config import settings_to_env
from pipeline.core.messages import InboundMessage
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces import components, ops_commands
from pipeline.runtime.assembly import build_processor
from pipeline.stream.clients import Consumed
from pipeline.stream.reading import TopicRead

TOPIC = "phi.audit"


@pytest.fixture
def audit_messages(base_settings, keyring, registry, monkeypatch):
    """Six audit records of one chain as a reader would return them, with the CLI's environment set."""
    settings = base_settings.with_overrides(detector_model=None, rules_only=True, topic_audit=TOPIC)
    for name, value in settings_to_env(settings).items():
        monkeypatch.setenv(name, value)
    processor = build_processor(settings, keyring)
    entry = registry.get("clinical_record")
    inputs = [
        signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key)
        for r in synthetic_records(6, seed=12)
    ]
    results = processor.process_batch(
        [InboundMessage(i.value, i.key, tuple(i.headers), "phi.ingest", 0, n, 0) for n, i in enumerate(inputs)]
    )
    audits = [out for r in results for out in r.outputs if out.role == "audit"]
    return [Consumed(TOPIC, 0, n, a.key, a.value, a.headers, 0) for n, a in enumerate(audits)]


def _verify(monkeypatch, read: TopicRead) -> int:
    async def reader(*args, **kwargs):
        return read

    async def consumer(*args, **kwargs):  # what the command read before it knew the end offsets
        return list(read.messages)

    monkeypatch.setattr(components, "configure_logging", lambda level: None)  # keep pytest's handlers
    monkeypatch.setattr(ops_commands, "read_to_end", reader, raising=False)
    monkeypatch.setattr(ops_commands, "consume", consumer, raising=False)
    return ops_commands._audit_verify(argparse.Namespace(timeout=1.0, allow_duplicates=False))


def test_verify_passes_a_read_that_reached_the_end(audit_messages, monkeypatch, capsys):
    read = TopicRead(audit_messages, {(TOPIC, 0): 6, (TOPIC, 1): 0}, {(TOPIC, 0): 6, (TOPIC, 1): 0})
    assert _verify(monkeypatch, read) == 0
    assert "audit chains verified" in capsys.readouterr().out


def test_verify_fails_when_the_read_stopped_before_the_end_offsets(audit_messages, monkeypatch, capsys):
    """A prefix of a chain verifies on its own; the command must not call that a verified trail."""
    read = TopicRead(audit_messages[:3], {(TOPIC, 0): 6}, {(TOPIC, 0): 3})
    assert _verify(monkeypatch, read) == 1
    out, err = capsys.readouterr()
    assert "audit chains verified" not in out and "NOT verified" in out
    assert f"{TOPIC} partition 0: read to offset 3 of 6" in err


def test_verify_skips_and_reports_a_foreign_record(audit_messages, monkeypatch, capsys):
    junk = Consumed(TOPIC, 0, 6, None, b"\x00junk", (), 0)
    read = TopicRead([*audit_messages, junk], {(TOPIC, 0): 7}, {(TOPIC, 0): 7})
    assert _verify(monkeypatch, read) == 0
    out, err = capsys.readouterr()
    assert "audit chains verified" in out and "1 record(s) skipped" in out
    assert f"{TOPIC} partition 0 offset 6" in err and "message-id-missing" in err
