"""Reading a whole output topic for an operator tool: to its end, believing only the pipeline's records.

:func:`read_to_end` captures the topics' end offsets before it reads and says whether it reached them,
so a slow or silent broker cannot make a tool judge a prefix. :func:`decode_trusted` decodes a record
only if it carries the pipeline's egress signature and the expected schema; anything else raises
:class:`UntrustedRecordError`, which a tool reports (where and why, never content) and skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.config import Settings
from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.integrity import HEADER_SCHEMA, SignatureError, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.errors import PipelineError, RejectedMessage, SchemaError
from pipeline.core.schemas import SchemaRegistry
from pipeline.stream.clients import Consumed, consume
from pipeline.stream.kafka_options import client_options


@dataclass(frozen=True, slots=True)
class TopicRead:
    """What :func:`read_to_end` read, and the end offsets the topics had when it started."""

    messages: list[Consumed]
    end_offsets: dict[tuple[str, int], int]  # (topic, partition) -> end offset at start
    positions: dict[tuple[str, int], int]  # (topic, partition) -> offset after the last record read

    @property
    def short(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Partitions not read to their start-time end offset: ``(reached, end)``."""
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


async def end_offsets(settings: Settings, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Each partition's end offset (the offset the next record written will get), now."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # loads metadata for every topic, so partitions_for_topic answers
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        found = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in found.items()}


async def read_to_end(
    settings: Settings, topics: Sequence[str], *, timeout: float = 30.0, idle_timeout: float = 3.0
) -> TopicRead:
    """Read the topics from the beginning until nothing new arrives for ``idle_timeout`` seconds or
    ``timeout`` passes, and say whether that reached the end offsets captured before reading.

    Reaching the end offsets alone does not end the read: some brokers (tansu among them) report end
    offsets below their last record. A caller that judges a whole topic must refuse an incomplete read
    (:attr:`TopicRead.complete`) rather than judge a prefix.
    """
    ends = await end_offsets(settings, topics)
    found = await consume(settings, topics, timeout=timeout, idle_timeout=idle_timeout)
    positions: dict[tuple[str, int], int] = {}
    for message in found:
        where = (message.topic, message.partition)
        positions[where] = max(positions.get(where, 0), message.offset + 1)
    return TopicRead(found, ends, positions)


class UntrustedRecordError(PipelineError):
    """A record on one of the pipeline's output topics that the pipeline did not write, or that was
    altered: it fails egress verification, names another schema, or does not decode. ``cause`` is the
    stable code of what failed (the egress check's, ``schema-unknown``, ``schema-mismatch`` or the
    decoder's)."""

    reason = "untrusted-record"

    def __init__(self, message: Consumed, cause: str, detail: str) -> None:
        super().__init__(f"{message.topic} partition {message.partition} offset {message.offset}: {detail}")
        self.cause = cause


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
