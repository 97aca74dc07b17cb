"""Outputs to Kafka in record batches built here, one future per batch rather than per record.

faust's producer (and aiokafka's ``send`` under it) takes one record at a time: a coroutine, a size
estimate, a pure-Python murmur2 partitioner call, an accumulator append and a future per record. For a
structured record, which sends two outputs (the de-identified record and its audit event), that was
as much of the worker's time as the rest of the record's processing. :class:`BatchSender` groups a
chunk's outputs by topic and partition, appends them to aiokafka record batches and hands each batch to
the producer whole.

Placement is the one ``send`` would choose: aiokafka's default partitioner over the same key, so a
record key lands in the partition it always did, and an audit chain (keyed by its chain id) stays in one
partition. Order is kept: within a partition, outputs are appended in the order given, and a later
call's batches for a partition queue behind earlier ones (aiokafka sends a partition's batches in turn).

Errors keep their meaning: an output larger than the producer's request limit is refused before it
leaves (:class:`~aiokafka.errors.MessageSizeTooLargeError`, as ``send`` would raise it), and a batch the
broker refuses because of its contents is settled by the caller output by output (see
``pipeline.stream.app.settle``), so only the offending output's message is dead-lettered.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from pipeline.config import Settings
from pipeline.core.messages import OutboundMessage
from pipeline.core.roles import OutputRole
from pipeline.stream.admin import start_client
from pipeline.stream.kafka_options import client_options, compression

#: Largest record batch built here (bytes); smaller when the output limit (the producer's request size,
#: the topics' ``max.message.bytes``) is smaller. A record larger than this goes in a batch of its own.
MAX_BATCH_BYTES = 512 * 1024

SendFn = Callable[[OutboundMessage], Awaitable[Any]]
#: Send failures caused by the output itself (its size or its contents), not by the broker being away:
#: that message is dead-lettered and its batch goes on.
OUTPUT_SEND_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
    ValueError,
    TypeError,
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outputs handed to the producer together (their positions in the list given) and the future that
    says whether the broker took them: one record batch, or one record."""

    positions: tuple[int, ...]
    future: Awaitable[Any]


@runtime_checkable
class OutputSender(Protocol):
    async def send(self, out: OutboundMessage) -> Awaitable[Any]:
        """One output on its own; returns the future of its acknowledgement."""
        ...

    async def send_many(self, outputs: Sequence[OutboundMessage]) -> tuple[list[Delivery], dict[int, BaseException]]:
        """Hand every output to the producer, in order; returns the deliveries to wait for and, by
        position, the outputs refused before they left (because of the output itself)."""
        ...


class OneByOne:
    """:class:`OutputSender` over a function that sends one output (faust's producer; tests)."""

    def __init__(self, send: SendFn) -> None:
        self._send = send

    async def send(self, out: OutboundMessage) -> Awaitable[Any]:
        return await self._send(out)

    async def send_many(self, outputs: Sequence[OutboundMessage]) -> tuple[list[Delivery], dict[int, BaseException]]:
        deliveries: list[Delivery] = []
        refused: dict[int, BaseException] = {}
        for position, out in enumerate(outputs):
            try:
                deliveries.append(Delivery((position,), await self._send(out)))
            except OUTPUT_SEND_ERRORS as exc:  # refused before it left: this output, not the broker
                refused[position] = exc
        return deliveries, refused


_M = 0x5BD1E995  # murmur2's mixing constant
_WORD = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2, equal to aiokafka's (``aiokafka.partitioner.murmur2``) for every input.

    aiokafka's assembles each 4-byte word from single bytes and masks after every operation; this one
    reads the words with :mod:`struct` and masks only where a value can pass 32 bits: about 2x cheaper,
    and every record key (unique per record) is hashed once per output.
    """
    length = len(data)
    h = 0x9747B28C ^ length
    tail = length & ~3
    for (k,) in _WORD.iter_unpack(memoryview(data)[:tail]):
        k = (k * _M) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * _M) & 0xFFFFFFFF
        h = ((h * _M) & 0xFFFFFFFF) ^ k
    extra = length & 3
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h = ((h ^ data[tail]) * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


@lru_cache(maxsize=8192)
def _key_hash(key: bytes) -> int:
    """murmur2 once per distinct key: audit chain ids repeat on every event."""
    return murmur2(key) & 0x7FFFFFFF


def partition_for(key: bytes | None, partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's (and Kafka's) default partitioner: murmur2 of the key over all partitions, sorted;
    a record without a key goes to any available partition."""
    if key is None:
        return _spread(available or partitions)
    return partitions[_key_hash(key) % len(partitions)]


def _spread(choices: Sequence[int]) -> int:
    return random.choice(list(choices))


class BatchSender:
    """:class:`OutputSender` that builds aiokafka record batches per topic and partition."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic_for: Callable[[OutputRole], str],
        max_request_size: int,
    ) -> None:
        self.producer = producer
        self.topic_for = topic_for
        self.max_request_size = max_request_size

    async def send(self, out: OutboundMessage) -> Awaitable[Any]:
        return await self.producer.send(self.topic_for(out.role), out.value, key=out.key, headers=list(out.headers))

    async def send_many(self, outputs: Sequence[OutboundMessage]) -> tuple[list[Delivery], dict[int, BaseException]]:
        refused: dict[int, BaseException] = {}
        groups: dict[tuple[str, int], list[int]] = {}
        placement: dict[str, tuple[list[int], list[int]]] = {}
        for position, out in enumerate(outputs):
            headers = list(out.headers)
            size = DefaultRecordBatchBuilder.estimate_size_in_bytes(out.key, out.value, headers)
            if size > self.max_request_size:
                refused[position] = MessageSizeTooLargeError(
                    f"the output is {size} bytes when serialized, more than the producer's request limit "
                    f"({self.max_request_size} bytes)"
                )
                continue
            topic = self.topic_for(out.role)
            if topic not in placement:
                placement[topic] = await self._partitions(topic)
            partitions, available = placement[topic]
            groups.setdefault((topic, partition_for(out.key, partitions, available)), []).append(position)
        deliveries: list[Delivery] = []
        for (topic, partition), positions in groups.items():
            builder, members = self._builder(), []
            for position in positions:
                out = outputs[position]
                if builder.append(timestamp=None, key=out.key, value=out.value, headers=list(out.headers)) is None:
                    deliveries.append(await self._submit(builder, members, topic, partition))
                    builder, members = self._builder(), []
                    builder.append(timestamp=None, key=out.key, value=out.value, headers=list(out.headers))
                members.append(position)
            deliveries.append(await self._submit(builder, members, topic, partition))
        return deliveries, refused

    def _builder(self) -> Any:
        return self.producer.create_batch()  # sized by the producer's max_batch_size

    async def _partitions(self, topic: str) -> tuple[list[int], list[int]]:
        partitions = sorted(await self.producer.partitions_for(topic))
        available = sorted(self.producer.client.cluster.available_partitions_for_topic(topic) or ())
        return partitions, available

    async def _submit(self, builder: Any, members: list[int], topic: str, partition: int) -> Delivery:
        builder.close()  # ours alone: nothing else appends to it, and a closed batch does not linger
        future = await self.producer.send_batch(builder, topic, partition=partition)
        return Delivery(tuple(members), future)


class OutputProducer:
    """The worker's output producer: one aiokafka producer, started by the first agent that needs it
    and stopped when the last agent using it stops. faust's own producer stays for faust's own use."""

    def __init__(self, settings: Settings, max_request_size: int, max_batch_bytes: int = MAX_BATCH_BYTES) -> None:
        self.settings = settings
        self.max_request_size = max_request_size
        self.max_batch_bytes = max_batch_bytes
        self._sender: BatchSender | None = None
        self._users = 0
        self._lock: asyncio.Lock | None = None

    async def acquire(self) -> BatchSender:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._sender is None:
                producer = await start_client(
                    self.settings,
                    lambda: AIOKafkaProducer(
                        **client_options(self.settings),
                        acks="all",
                        max_request_size=self.max_request_size,
                        max_batch_size=self.max_batch_bytes,
                        compression_type=compression(self.settings),
                        client_id=f"{self.settings.group_id}-outputs",
                    ),
                    lambda client: client.stop(),
                )
                self._sender = BatchSender(producer, self.settings.topic_for, self.max_request_size)
            self._users += 1
            return self._sender

    async def release(self) -> None:
        if self._lock is None:
            return
        async with self._lock:
            self._users -= 1
            if self._users <= 0 and self._sender is not None:
                sender, self._sender = self._sender, None
                await sender.producer.stop()
