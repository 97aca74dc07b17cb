"""The redaction agent's consumer without a broker: what a batch commits, and records as the core sees them.
Its group behaviour (rebalances, crashes, custody loss) is covered on the embedded broker by the e2e tests."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from pipeline.core.messages import InboundMessage
from pipeline.stream.consuming import inbound_record, next_offsets


def record(partition: int, offset: int, timestamp: int = 1_700_000_000_123, headers=()) -> ConsumerRecord:
    return ConsumerRecord(
        topic="phi.ingest",
        partition=partition,
        offset=offset,
        timestamp=timestamp,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=headers,
    )


def test_a_batch_commits_one_past_its_last_message_per_partition():
    messages = [inbound_record(record(p, o)) for p, o in [(0, 5), (1, 9), (0, 7), (0, 6), (1, 8)]]
    assert next_offsets(messages) == {TopicPartition("phi.ingest", 0): 8, TopicPartition("phi.ingest", 1): 10}
    assert next_offsets([]) == {}


def test_a_record_reaches_the_core_as_bytes_with_its_place_and_time():
    message = inbound_record(record(3, 42, headers=(("phi-message-id", b"m1"), ("empty", None))))
    assert message == InboundMessage(
        value=b"v",
        key=b"k",
        headers=(("phi-message-id", b"m1"), ("empty", b"")),
        topic="phi.ingest",
        partition=3,
        offset=42,
        timestamp_ms=1_700_000_000_123,
    )
    assert inbound_record(record(0, 0, timestamp=-1)).timestamp_ms is None  # no timestamp on the record
