"""The stream layer's send path without a broker: an output refused because of itself dead-letters its
message and the batch goes on; only a broker failure stops the worker (and the log says which)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, RecordTooLargeError

from pipeline.core.codecs import decode_avro
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.stream import app as stream_app
from pipeline.stream.admin import limits_from_responses
from tests.unit.processors import unit_processor


class Exited(Exception):
    pass


@pytest.fixture
def exits(monkeypatch):
    calls = []

    def fake_exit(exc, failure=stream_app.SEND_FAILURE):
        calls.append((type(exc).__name__, failure))
        raise Exited

    monkeypatch.setattr(stream_app, "exit_without_commit", fake_exit)
    return calls


@pytest.fixture
def processor(registry, keyring):
    return unit_processor(registry, keyring)


def events(registry, keyring, count=4):
    entry = registry.get("clinical_record")
    out = []
    for i, r in enumerate(synthetic_records(count, seed=31)):
        s = signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key)
        message = SimpleNamespace(
            value=s.value, key=s.key, headers=s.headers, topic="phi.ingest", partition=0, offset=i, timestamp=None
        )
        out.append(SimpleNamespace(message=message))
    return out


def inbound_all(batch):
    """What the agents hand to ``run_batch``: the core's inbound messages."""
    return [stream_app.inbound(event.message) for event in batch]


class Broker:
    """Records what was sent; refuses by rule."""

    def __init__(self, refuse=None, fail_later=None):
        self.sent = []
        self.refuse = refuse or (lambda out: False)
        self.fail_later = fail_later or (lambda out: None)

    async def send(self, out):
        if self.refuse(out):
            raise MessageSizeTooLargeError("too large for the producer")
        future = asyncio.get_running_loop().create_future()
        error = self.fail_later(out)
        if error is not None:
            future.set_exception(error)
        else:
            self.sent.append(out)
            future.set_result(None)
        return future


def run(coro):
    return asyncio.run(coro)


def test_an_output_refused_before_sending_dead_letters_its_message_only(registry, keyring, processor, exits):
    batch = events(registry, keyring)
    target = batch[1].message.offset
    broker = Broker(refuse=lambda out: out.role == "redacted" and out is refused_output[0])
    refused_output = [None]

    def process(messages):
        results = processor.process_batch(messages)
        refused_output[0] = results[target].outputs[0]
        return results

    results = run(stream_app.run_batch(broker.send, process, inbound_all(batch), processor.send_failed))
    assert not exits
    assert [(r.outcome, r.reason) for r in results] == [
        ("ok", None),
        ("deadletter", "output-rejected"),
        ("ok", None),
        ("ok", None),
    ]
    roles = [o.role for o in broker.sent]
    assert roles.count("redacted") == 3 and roles.count("deadletter") == 1 and roles.count("audit") == 5
    letter = decode_avro(registry.get("dead_letter"), next(o for o in broker.sent if o.role == "deadletter").value)
    assert letter["sealed_value"] is None and "phi.ingest/0/1" in letter["detail"]


def test_an_output_the_broker_rejects_after_sending_is_dead_lettered_too(registry, keyring, processor, exits):
    batch = events(registry, keyring, 3)
    first_record = {}

    def fail_later(out):
        if out.role == "redacted" and not first_record:
            first_record["done"] = True
            return RecordTooLargeError("broker max.message.bytes")
        return None

    broker = Broker(fail_later=fail_later)
    results = run(stream_app.run_batch(broker.send, processor.process_batch, inbound_all(batch), processor.send_failed))
    assert not exits
    assert [r.reason for r in results] == ["output-rejected", None, None]


def test_a_broker_outage_stops_the_worker_as_a_send_failure(registry, keyring, processor, exits, caplog):
    broker = Broker(fail_later=lambda out: KafkaTimeoutError())
    with pytest.raises(Exited):
        run(
            stream_app.run_batch(
                broker.send, processor.process_batch, inbound_all(events(registry, keyring, 2)), processor.send_failed
            )
        )
    assert exits == [("KafkaTimeoutError", stream_app.SEND_FAILURE)]


def test_a_batch_that_fails_as_a_whole_is_logged_as_a_processing_failure(registry, keyring, exits):
    def broken(messages):
        raise ValueError("bug")

    with pytest.raises(Exited):
        run(stream_app.run_batch(Broker().send, broken, inbound_all(events(registry, keyring, 1))))
    assert exits == [("ValueError", stream_app.PROCESSING_FAILURE)]


def test_the_real_exit_names_the_kind_of_failure(monkeypatch, caplog):
    monkeypatch.setattr(stream_app.os, "_exit", lambda code: (_ for _ in ()).throw(Exited(code)))
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    with caplog.at_level(logging.CRITICAL), pytest.raises(Exited):
        stream_app.exit_without_commit(ValueError(), stream_app.PROCESSING_FAILURE)
    assert "processing failure" in caplog.text and "send failure" not in caplog.text


def test_output_limit_is_the_smallest_of_producer_and_topics(base_settings, processor):
    settings = base_settings
    producer = stream_app.producer_max_request_size(settings)
    assert stream_app.apply_output_limits(processor, settings, {}) <= producer
    limit = stream_app.apply_output_limits(processor, settings, {settings.topic_deadletter: 1_000_000, "other": 10})
    assert limit == processor.max_output_bytes == 1_000_000


def test_topic_limits_from_describe_configs():
    response = SimpleNamespace(
        resources=[
            (0, None, 2, "phi.redacted", [("max.message.bytes", "1048588", False, 5, False, [])]),
            (3, "unknown topic", 2, "phi.gone", []),
            (0, None, 2, "phi.audit", [("max.message.bytes", None, False, 5, True, [])]),
        ]
    )
    assert limits_from_responses([response]) == {"phi.redacted": 1_048_588}
