"""The redaction agent's input: one aiokafka consumer in the worker's group, read a batch at a time.

faust's consumer (its fetcher, the Conductor's routing, a ``Message`` and an ``Event`` per record, the
stream's buffer, per-event sensors and acks) cost structured records about as much CPU as the whole
faust pass-through spends per record. :class:`BatchConsumer` reads with ``getmany`` straight from
aiokafka's fetcher, so the agent pays for the records and little else.

The contract is the agent's as it was:

- **At-least-once.** Offsets are committed explicitly (auto-commit is off), and only past batches
  handed to :meth:`BatchConsumer.done`, which the agent calls once every output of the batch has been
  acknowledged by the broker. A worker that exits before that leaves the batch uncommitted, and the
  group's next owner of the partition reads it again. The commit itself runs in the background (one
  at a time, each taking every batch done meanwhile), so its round trip does not hold up the next
  batch; :meth:`BatchConsumer.flush` waits for it where that matters (before partitions are revoked,
  before the custody guard's exit, at shutdown).
- **Rebalances.** A batch is handled while :meth:`BatchConsumer.batch` holds a lock, and the rebalance
  listener takes that lock before partitions are revoked: a batch in hand is finished and committed
  before its partitions can move, so a rebalance neither loses nor splits one. The lock is taken once
  ``getmany`` has returned (aiokafka's ``getmany`` waits for a rebalance under way to finish, and the
  rebalance would wait for the lock); a batch read before a revocation that got the lock first is set
  aside uncommitted, for the partitions' owner to read again from the committed offsets.
- **The group.** Same group id, offsets and partition assignor as faust's consumer (the app's own assignor
  is passed in, protocol ``faust``), so committed offsets carry over, a worker of an earlier release and
  one of this can share the group during a rolling upgrade, and a worker whose summary agent reads with
  faust's consumer has both consumers in one group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError

from pipeline.config import Settings
from pipeline.core.messages import InboundMessage
from pipeline.stream.admin import start_client
from pipeline.stream.kafka_options import client_options

log = logging.getLogger(__name__)

#: How long a fetch waits on the broker for new records when there are none (ms). Some brokers (tansu)
#: answer a fetch only when the wait runs out, so this bounds an idle worker's latency.
FETCH_MAX_WAIT_MS = 100
#: A batch may take this long to process before the group counts the worker as stuck (faust's default).
MAX_POLL_INTERVAL_MS = 1_000_000


def header_pairs(raw: Any) -> tuple[tuple[str, bytes], ...]:
    """Record headers (pairs or a mapping; values may be None) as the core's ``(name, bytes)`` pairs."""
    if raw is None:
        return ()
    items = raw.items() if isinstance(raw, Mapping) else raw
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in items)


def to_inbound(record: Any, timestamp_ms: int | None) -> InboundMessage:
    """A consumed record (aiokafka's or faust's) -> the core's InboundMessage (bytes only; no decoding here)."""
    return InboundMessage(
        value=record.value,
        key=record.key,
        headers=header_pairs(record.headers),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=timestamp_ms,
    )


def inbound_record(record: Any) -> InboundMessage:
    """aiokafka's ConsumerRecord (its timestamp in ms, -1 for none) -> the core's InboundMessage."""
    return to_inbound(record, record.timestamp if record.timestamp is not None and record.timestamp >= 0 else None)


def next_offsets(messages: Sequence[InboundMessage]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``messages`` are done: one past the last one read, per partition."""
    offsets: dict[TopicPartition, int] = {}
    for message in messages:
        tp = TopicPartition(message.topic, message.partition)
        offsets[tp] = max(offsets.get(tp, 0), message.offset + 1)
    return offsets


class _FinishBeforeRevoking(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions move only between batches: revocation waits for the batch in hand to be committed."""

    def __init__(self, lock: asyncio.Lock, flush: Callable[[], Awaitable[None]]) -> None:
        self.lock = lock
        self.flush = flush
        self.revocations = 0

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.lock:
            self.revocations += 1
            await self.flush()  # every finished batch committed while the partitions are still ours
            log.info("partitions revoked: %d (no batch in hand, every finished batch committed)", len(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned: %d", len(assigned))


class BatchConsumer:
    """One topic read in batches by one consumer of the group ``group_id``."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        group_id: str,
        batch_size: int,
        within: float,
        assignor: Any = RoundRobinPartitionAssignor,
    ) -> None:
        self.settings = settings
        self.assignor = assignor
        self.topic = topic
        self.group_id = group_id
        self.batch_size = batch_size
        self.within_ms = max(1, int(within * 1000))
        self._listener = _FinishBeforeRevoking(asyncio.Lock(), self.flush)
        self._consumer: AIOKafkaConsumer | None = None
        self._done: dict[TopicPartition, int] = {}  # offsets to commit, of batches finished since the last commit
        self._committing: asyncio.Future[None] | None = None

    def _create(self) -> AIOKafkaConsumer:
        settings = self.settings
        return AIOKafkaConsumer(
            **client_options(settings),
            group_id=self.group_id,
            client_id=f"{self.group_id}-{self.topic}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(self.assignor,),
            session_timeout_ms=int(settings.session_timeout * 1000),
            heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
            rebalance_timeout_ms=int(max(settings.session_timeout * 2, 10.0) * 1000),
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
            max_partition_fetch_bytes=max(settings.max_message_bytes * 2, 4_194_304),
            fetch_max_wait_ms=min(FETCH_MAX_WAIT_MS, self.within_ms),
        )

    async def start(self) -> None:
        """Connect (retried up to PHI_CONNECT_TIMEOUT) and subscribe; the group join follows on the first read."""
        consumer = await start_client(self.settings, self._create, lambda client: client.stop())
        consumer.subscribe([self.topic], listener=self._listener)
        self._consumer = consumer

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # what is not committed now is read again by the next owner
            await asyncio.wait_for(self.flush(), timeout=self.settings.session_timeout)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):  # leaving the group; nothing uncommitted is lost by it
                await consumer.stop()

    @property
    def started(self) -> bool:
        return self._consumer is not None

    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._consumer.highwater(tp) if self._consumer is not None else None

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[list[InboundMessage]]:
        """Up to ``batch_size`` messages, held against a rebalance until the ``async with`` block is left.

        As faust's ``take_events``: the batch fills until it has ``batch_size`` messages or the batch
        timeout has passed since its first one arrived (none when nothing arrived within the timeout)."""
        assert self._consumer is not None, "start() first"
        found = await self._consumer.getmany(timeout_ms=self.within_ms, max_records=self.batch_size)
        revocations = self._listener.revocations  # no await since getmany returned
        records = [record for batch in found.values() for record in batch]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.within_ms / 1000
        while records and len(records) < self.batch_size and (left := deadline - loop.time()) > 0:
            more = await self._consumer.getmany(timeout_ms=int(left * 1000), max_records=self.batch_size - len(records))
            if not more:
                break
            records.extend(record for batch in more.values() for record in batch)
        async with self._listener.lock:
            if records and self._listener.revocations != revocations:  # partitions moved before the lock was ours
                await self._read_again({TopicPartition(r.topic, r.partition) for r in records})
                records = []
            yield [inbound_record(record) for record in records]

    async def _read_again(self, found: Iterable[TopicPartition]) -> None:
        """Records read under the previous assignment, set aside: where the partition is ours again, read
        on from its committed offset (the beginning where nothing was ever committed)."""
        assert self._consumer is not None
        ours = [tp for tp in found if tp in self._consumer.assignment()]
        log.info("a batch read before a rebalance is set aside; %d partitions read again from their commits", len(ours))
        if ours:
            committed = await self._consumer.seek_to_committed(*ours)
            never = [tp for tp, offset in committed.items() if not offset]
            if never:
                await self._consumer.seek_to_beginning(*never)

    def done(self, messages: Sequence[InboundMessage]) -> None:
        """``messages`` are finished (every output behind them acknowledged): their offsets are committed
        in the background, after any commit under way."""
        for tp, offset in next_offsets(messages).items():
            self._done[tp] = max(self._done.get(tp, 0), offset)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.ensure_future(self._commit_pending())

    async def flush(self) -> None:
        """Wait until every finished batch is committed (or its commit has failed and been logged)."""
        if self._committing is not None and not self._committing.done():
            await asyncio.shield(self._committing)
        await self._commit_pending()

    async def _commit_pending(self) -> None:
        while self._done and self._consumer is not None:
            offsets, self._done = self._done, {}
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:  # the partitions moved: their new owner reads on
                log.warning("offsets not committed (%s); the partitions' next owner reads those batches again",
                            type(exc).__name__)  # fmt: skip
            except Exception as exc:  # kept for the next commit; a worker that exits first has them read again
                for tp, offset in offsets.items():
                    self._done[tp] = max(self._done.get(tp, 0), offset)
                log.warning("offsets not committed yet (%s); tried again with the next batch", type(exc).__name__)
                return

    def lag(self, messages: Sequence[InboundMessage]) -> dict[TopicPartition, int]:
        """Messages behind the high-water mark, per partition of ``messages`` (unknown ones left out)."""
        lags: dict[TopicPartition, int] = {}
        for tp, following in next_offsets(messages).items():
            highwater = self.highwater(tp)
            if highwater is not None:
                lags[tp] = max(0, highwater - following)
        return lags
