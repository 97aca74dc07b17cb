"""Plain aiokafka producing and consuming, for the command line, the demo, tests and benchmarks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.config import Settings
from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.integrity import HEADER_MESSAGE_ID, HEADER_SCHEMA
from pipeline.core.errors import ConfigError, SchemaError
from pipeline.core.formats.base import format_of
from pipeline.core.schemas import SchemaRegistry
from pipeline.stream.admin import start_client
from pipeline.stream.kafka_options import client_options, compression


class UnknownTopicError(ConfigError):
    """A topic asked for is not on the brokers (a typo, or an alias the command does not know)."""

    reason = "topic-unknown"

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = tuple(topics)
        super().__init__(f"no topic named {', '.join(self.topics)} on the brokers")


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


async def produce(
    settings: Settings,
    topic: str,
    messages: Iterable[Outgoing],
    on_sent: Callable[[int], None] | None = None,
    max_request_size: int = 16 * 1024 * 1024,
) -> int:
    """Send all messages and wait for every acknowledgement; returns how many were sent."""
    producer = await start_client(
        settings,
        lambda: AIOKafkaProducer(
            **client_options(settings),
            acks="all",
            max_request_size=max_request_size,
            linger_ms=5,
            compression_type=compression(settings),
        ),
        lambda client: client.stop(),
    )
    sent = 0
    try:
        pending: list[asyncio.Future] = []
        for message in messages:
            pending.append(
                await producer.send(topic, value=message.value, key=message.key, headers=list(message.headers))
            )
            sent += 1
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
                if on_sent:
                    on_sent(sent)
        await asyncio.gather(*pending)
        if on_sent:
            on_sent(sent)
    finally:
        await producer.stop()
    return sent


async def consume(
    settings: Settings,
    topics: Sequence[str],
    *,
    until: Callable[[list[Consumed]], bool] | None = None,
    timeout: float = 30.0,
    idle_timeout: float | None = None,
    limit: int | None = None,
) -> list[Consumed]:
    """Read the topics from the beginning with no group (nothing committed) until a condition or a timeout.

    Stops when ``until(messages)`` is true, ``limit`` messages were read, ``timeout`` seconds passed,
    or nothing new arrived for ``idle_timeout`` seconds.
    """
    consumer = await start_client(
        settings,
        lambda: AIOKafkaConsumer(
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"phi-reader-{uuid.uuid4().hex[:8]}",
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=32 * 1024 * 1024,
            fetch_max_wait_ms=50,  # tansu answers a fetch only when the wait expires: keep it short
        ),
        lambda client: client.stop(),
    )
    found: list[Consumed] = []
    try:
        for attempt in range(3):  # a topic created a moment ago may be missing from the first metadata answer
            await consumer.topics()  # loads metadata for every topic, so partitions_for_topic answers
            absent = [topic for topic in topics if not consumer.partitions_for_topic(topic)]
            if not absent:
                break
            if attempt == 2:
                raise UnknownTopicError(absent)
            await asyncio.sleep(0.5)
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            for records in batch.values():
                for r in records:
                    found.append(
                        Consumed(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()), r.timestamp)
                    )
                    last_new = time.monotonic()
            if limit is not None and len(found) >= limit:
                break
            if until is not None and until(found):
                break
            if idle_timeout is not None and time.monotonic() - last_new > idle_timeout:
                break
    finally:
        await consumer.stop()
    return found


def decode_output(registry: SchemaRegistry, message: Consumed) -> dict[str, Any]:
    """An output message as a dict, decoded with the schema its ``phi-schema`` header names."""
    schema = dict(message.headers).get(HEADER_SCHEMA, b"").decode("utf-8", "replace")
    clinical = format_of(schema)
    if clinical is not None:  # HL7 v2 or FHIR: the message itself, as text
        return {"format": clinical, "schema": schema, "message": (message.value or b"").decode("utf-8", "replace")}
    try:
        entry = registry.get(schema)
    except SchemaError:
        return {"undecoded_bytes": len(message.value or b""), "schema": schema}
    return decode_avro(entry, message.value or b"")


def input_message_id(registry: SchemaRegistry, message: Consumed, deadletter_topic: str) -> str:
    """The input an output answers for: its ``phi-message-id``; for the dead letter of a message that
    failed verification (whose own id is derived from its coordinates), the id that message claimed.
    The claim is unverified: use it to match what you sent, never to trust who sent it."""
    own = dict(message.headers).get(HEADER_MESSAGE_ID, b"").decode("utf-8", "replace")
    if message.topic != deadletter_topic or not own.startswith("derived-"):
        return own
    letter = decode_output(registry, message)
    return str(letter.get("claimed_message_id") or own)
