"""Plain aiokafka producing and consuming, for the command line, the demo, tests and benchmarks.

Operator tools read with :func:`read_to_end` (it captures the topics' end offsets first and says
whether it reached them, so a slow broker cannot make a tool judge a prefix) and decode with
:func:`decode_trusted` (only what carries the pipeline's egress signature is believed).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.config import Settings
from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.integrity import HEADER_SCHEMA, SignatureError, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.errors import PipelineError, RejectedMessage, SchemaError
from pipeline.core.schemas import SchemaRegistry
from pipeline.stream.kafka_options import client_options


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
    producer = AIOKafkaProducer(**client_options(settings), acks="all", max_request_size=max_request_size, linger_ms=5)
    await producer.start()
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


def _reader(settings: Settings) -> AIOKafkaConsumer:
    """A consumer with no group (nothing committed) that reads from where it is told."""
    return AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"phi-reader-{uuid.uuid4().hex[:8]}",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
        fetch_max_wait_ms=50,  # tansu answers a fetch only when the wait expires: keep it short
    )


async def _assign_from_start(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    await consumer.topics()  # loads metadata for every topic, so partitions_for_topic answers
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or [])
    ]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return partitions


def _consumed(record: Any) -> Consumed:
    return Consumed(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        tuple(record.headers or ()),
        record.timestamp,
    )


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
    consumer = _reader(settings)
    await consumer.start()
    found: list[Consumed] = []

    async def done(idle: float) -> bool:
        return (
            (limit is not None and len(found) >= limit)
            or (until is not None and until(found))
            or (idle_timeout is not None and idle > idle_timeout)
        )

    try:
        await _assign_from_start(consumer, topics)
        await _poll(consumer, found, timeout, done)
    finally:
        await consumer.stop()
    return found


async def _poll(
    consumer: AIOKafkaConsumer, found: list[Consumed], timeout: float, done: Callable[[float], Awaitable[bool]]
) -> None:
    """Append what arrives to ``found`` until ``done(seconds since anything arrived)`` or ``timeout``."""
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=1000)
        for records in batch.values():
            found.extend(_consumed(r) for r in records)
            if records:
                last_new = time.monotonic()
        if await done(time.monotonic() - last_new):
            return


@dataclass(frozen=True, slots=True)
class TopicRead:
    """What :func:`read_to_end` read, and the end offsets the topics had when it started."""

    messages: list[Consumed]
    end_offsets: dict[tuple[str, int], int]  # (topic, partition) -> end offset at start
    positions: dict[tuple[str, int], int]  # (topic, partition) -> next offset the reader would have read

    @property
    def short(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Partitions the reader did not read to their start-time end offset: ``(reached, end)``."""
        return {
            tp: (self.positions.get(tp, 0), end)
            for tp, end in sorted(self.end_offsets.items())
            if self.positions.get(tp, 0) < end
        }

    @property
    def complete(self) -> bool:
        return not self.short

    def describe_short(self) -> list[str]:
        """One line per partition not read to its end, for an operator."""
        return [
            f"{topic} partition {partition}: read to offset {reached} of {end} (its end when reading began)"
            for (topic, partition), (reached, end) in self.short.items()
        ]


async def read_to_end(
    settings: Settings, topics: Sequence[str], *, timeout: float = 30.0, idle_timeout: float = 3.0
) -> TopicRead:
    """Read the topics from the beginning past the end offsets they had when this started.

    The end offsets are captured first; reading stops once every partition has reached its end and
    nothing new arrived for ``idle_timeout`` seconds (some brokers, tansu among them, report end
    offsets below the last record, so reaching them alone does not end the read), or at ``timeout``.
    :attr:`TopicRead.complete` says whether every end was reached: a caller that judges a whole topic
    must refuse an incomplete read rather than judge a prefix.
    """
    consumer = _reader(settings)
    await consumer.start()
    found: list[Consumed] = []
    try:
        partitions = await _assign_from_start(consumer, topics)
        ends = {(tp.topic, tp.partition): end for tp, end in (await consumer.end_offsets(partitions)).items()}

        async def positions() -> dict[tuple[str, int], int]:
            return {(tp.topic, tp.partition): await consumer.position(tp) for tp in partitions}

        async def done(idle: float) -> bool:
            if idle <= idle_timeout:
                return False
            reached = await positions()
            return all(reached[tp] >= end for tp, end in ends.items())

        await _poll(consumer, found, timeout, done)
        return TopicRead(found, ends, await positions())
    finally:
        await consumer.stop()


def decode_output(registry: SchemaRegistry, message: Consumed) -> dict[str, Any]:
    """An output message as a dict, decoded with the schema its ``phi-schema`` header names."""
    schema = dict(message.headers).get(HEADER_SCHEMA, b"").decode("utf-8", "replace")
    try:
        entry = registry.get(schema)
    except SchemaError:
        return {"undecoded_bytes": len(message.value or b""), "schema": schema}
    return decode_avro(entry, message.value or b"")


class UntrustedRecordError(PipelineError):
    """A record on one of the pipeline's output topics that the pipeline did not write, or that was
    altered: it fails egress verification, names another schema, or does not decode. ``reason`` is
    a stable code (the egress check's, ``schema-unknown``, ``schema-mismatch`` or the decoder's)."""

    def __init__(self, message: Consumed, reason: str, detail: str) -> None:
        super().__init__(f"{message.topic} partition {message.partition} offset {message.offset}: {detail}")
        self.reason = reason


def decode_trusted(keyring: Keyring, registry: SchemaRegistry, schema_name: str, message: Consumed) -> dict[str, Any]:
    """An output record decoded, only if it carries a valid egress signature and names ``schema_name``.

    Raises :class:`UntrustedRecordError` otherwise, so an operator tool can report the record and go on.
    """
    try:
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
    except SignatureError as exc:
        raise UntrustedRecordError(
            message, exc.reason, f"not written by the pipeline or altered: fails egress verification ({exc.reason})"
        ) from None
    ref = dict(message.headers).get(HEADER_SCHEMA, b"").decode("utf-8", "replace")
    try:
        entry = registry.get(ref)
    except SchemaError:
        raise UntrustedRecordError(message, "schema-unknown", "its phi-schema header names no known schema") from None
    if entry.name != schema_name:
        raise UntrustedRecordError(message, "schema-mismatch", f"schema {entry.ref}; this topic holds {schema_name}")
    try:
        return decode_avro(entry, message.value or b"")
    except RejectedMessage as exc:
        raise UntrustedRecordError(message, exc.reason, f"does not decode as {entry.ref} ({exc.reason})") from None
