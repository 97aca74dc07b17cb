"""The faust app: thin wiring from Kafka topics to :class:`RecordProcessor` and back.

The redaction agent reads ``phi.ingest`` in batches (its own aiokafka consumer in the worker's group,
:class:`~pipeline.stream.consuming.BatchConsumer`, run as a task of the faust app), hands the raw
messages to the core in a worker thread (detection is CPU work and must not starve heartbeats; a batch
that earlier batches say takes a few milliseconds, such as structured records, is processed on the event
loop itself, see :data:`INLINE_SECONDS`), sends each result's outputs, and waits until the broker has
acknowledged all of them before the batch's input offsets are committed. That order is what makes the
pipeline at-least-once: a crash before the acknowledgement replays the batch, and replays carry the same
message ids. The summary agent reads ``phi.redacted`` with faust's ``take_events`` under the same contract.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import faust
from faust.app.base import BootStrategy

from pipeline.config import Settings
from pipeline.core.messages import InboundMessage, OutboundMessage, output_limit
from pipeline.core.processing import ProcessResult, RecordProcessor
from pipeline.core.roles import Outcome, OutputRole
from pipeline.core.summary_processing import SummaryProcessor
from pipeline.stream.consuming import BatchConsumer, to_inbound
from pipeline.stream.custody_watch import CustodyGuard, exit_code
from pipeline.stream.kafka_options import compression, faust_broker_url, faust_credentials, require_codecs
from pipeline.stream.metrics import HealthServer, PipelineMetrics, server_tls
from pipeline.stream.sending import (
    MAX_BATCH_BYTES,
    OUTPUT_SEND_ERRORS,
    Delivery,
    OneByOne,
    OutputProducer,
    OutputSender,
    SendFn,
)

log = logging.getLogger(__name__)
EXIT_SEND_FAILED = 75  # EX_TEMPFAIL: restart and try again
SEND_FAILURE = "send failure: cannot send a batch's outputs, the broker did not take them"
PROCESSING_FAILURE = "processing failure: a batch failed as a whole, not one message"
CONSUME_FAILURE = "consume failure: the redaction agent's consumer stopped"


def inbound(message: Any) -> InboundMessage:
    """faust's Message (its timestamp in seconds) -> the core's InboundMessage (bytes only; no decoding here)."""
    return to_inbound(message, int(message.timestamp * 1000) if message.timestamp else None)


def record_metrics(metrics: PipelineMetrics, results: Sequence[ProcessResult], seconds: float) -> None:
    """A batch's figures, counted here and added to each metric once per label set (not once per message)."""
    metrics.batch_size.observe(len(results))
    metrics.stage_seconds.labels("batch").observe(seconds)
    messages: Counter[tuple[str, str]] = Counter()
    dead_letters: Counter[tuple[str, str]] = Counter()
    hmac_failures: Counter[str] = Counter()
    entities: Counter[tuple[str, str]] = Counter()
    sensitive: Counter[tuple[str, str]] = Counter()
    for result in results:
        messages[result.stage, result.outcome] += 1
        if result.outcome is Outcome.DEADLETTER:
            dead_letters[result.reason or "unknown", result.stage] += 1
            if result.hmac_failed:
                hmac_failures[result.reason or "unknown"] += 1
        entities.update(result.entities)
        if result.sensitive:
            record_action = _record_action(result)
            sensitive.update((category, record_action) for category, _ in result.sensitive)
    for (stage, outcome), count in messages.items():
        metrics.messages.labels(stage, outcome).inc(count)
    for labels, count in dead_letters.items():
        metrics.dead_letters.labels(*labels).inc(count)
    for reason, count in hmac_failures.items():
        metrics.hmac_failures.labels(reason).inc(count)
    for labels, count in entities.items():
        metrics.entities.labels(*labels).inc(count)
    for labels, count in sensitive.items():
        metrics.sensitive_records.labels(*labels).inc(count)
    metrics.last_progress.set(time.time())


def freeze_heap() -> None:
    """Move every object alive now (the models, lexicons, schemas, clients: built once, kept for the
    worker's life) out of the garbage collector's sight, after one last full collection.

    A structured record allocates a few hundred short-lived objects, so the collector runs every few
    records; its full collections walked the worker's whole long-lived heap each time, about 14 us of
    CPU per record (``bench/structured.py``'s records, ``gc.callbacks`` timing), near a tenth of the
    record's processing. Frozen objects are still freed by reference counting; only cycles among them
    are no longer looked for, and these live as long as the worker.
    """
    gc.collect()
    gc.freeze()


def _record_action(result: ProcessResult) -> str:
    """The action the record got: the strictest of its categories' (what ``decide`` chose)."""
    from pipeline.core.sensitive import SensitiveAction, strictest

    return strictest([SensitiveAction(action) for _, action in result.sensitive]).value if result.sensitive else ""


def faust_settings(settings: Settings) -> dict[str, Any]:
    """faust's configuration for the pipeline (also used by the benchmark's faust pass-through)."""
    require_codecs()
    return {
        "broker": faust_broker_url(settings),
        "broker_credentials": faust_credentials(settings),
        "processing_guarantee": "at_least_once",
        "broker_session_timeout": settings.session_timeout,
        "broker_heartbeat_interval": settings.heartbeat_interval,
        "broker_rebalance_timeout": max(settings.session_timeout * 2, 10.0),
        "broker_commit_interval": 1.0,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "producer_compression_type": compression(settings),
        "producer_max_request_size": producer_max_request_size(settings),
        "consumer_max_fetch_size": max(settings.max_message_bytes * 2, 4_194_304),
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "topic_partitions": settings.partitions,
        "web_enabled": False,
        "datadir": str(settings.data_dir / "faust"),
        "store": "memory://",
    }


def producer_max_request_size(settings: Settings) -> int:
    return output_limit(settings.max_message_bytes) + 65_536


def apply_output_limits(processor: RecordProcessor, settings: Settings, broker_limits: Mapping[str, int]) -> int:
    """Size every output against the smallest limit on its way: the producer's request size and each
    output topic's ``max.message.bytes`` where the brokers reported it. Returns the limit applied."""
    roles = (OutputRole.REDACTED, OutputRole.DEADLETTER, OutputRole.AUDIT, OutputRole.RESTRICTED)
    topics = tuple(settings.topic_for(r) for r in roles)
    limit = min(
        processor.max_output_bytes,
        producer_max_request_size(settings),
        *(broker_limits[t] for t in topics if t in broker_limits),
    )
    processor.max_output_bytes = limit
    log.info(
        "outputs are sized against %d bytes (%s)",
        limit,
        "producer and topic limits" if any(t in broker_limits for t in topics) else "producer limit; brokers gave none",
    )
    return limit


def exit_without_commit(exc: BaseException, failure: str = SEND_FAILURE) -> NoReturn:
    """Stop the process at once when a batch's outputs cannot be sent.

    faust's ``take_events`` acknowledges a batch's input events when the loop body is left, even by an
    exception, and acknowledged offsets get committed: a batch whose outputs were not sent would then be
    lost. Exiting before that (no ``finally`` runs) leaves the offsets uncommitted, so the restarted
    worker (Kubernetes, systemd, the tests) processes the batch again: at-least-once, never lost.
    ``failure`` says which it was in the log: a send failure (the broker) or a batch processing failure
    (a defect: one message's failure is dead-lettered by the core and never gets here).
    """
    log.critical("%s (%s); exiting without committing so the batch is processed again", failure, type(exc).__name__)
    logging.shutdown()
    os._exit(EXIT_SEND_FAILED)


@dataclass
class _Enqueued:
    """One step's outputs handed to the producer: which result each output answers for, what to wait
    for, and what was refused before it left."""

    outputs: list[OutboundMessage]
    owners: list[int]
    deliveries: list[Delivery]
    refused: dict[int, BaseException]


async def enqueue(sender: OutputSender, results: Sequence[Any], first: int = 0) -> _Enqueued:
    """Hand every output of ``results`` (result ``i`` is number ``first + i`` of its batch) to the
    producer, in order, without waiting for acknowledgements."""
    outputs: list[OutboundMessage] = []
    owners: list[int] = []
    for index, result in enumerate(results, first):
        outputs.extend(result.outputs)
        owners.extend([index] * len(result.outputs))
    deliveries, refused = await sender.send_many(outputs)
    return _Enqueued(outputs, owners, deliveries, refused)


async def settle(sender: OutputSender, steps: Sequence[_Enqueued]) -> dict[int, BaseException]:
    """Wait for every acknowledgement. Returns, per result index, the error of an output refused
    because of that output; any other failure (the broker away) raises. A record batch refused because
    of its contents is sent again output by output, so only the outputs at fault count as refused."""
    refused: dict[int, BaseException] = {}
    pending: list[tuple[_Enqueued, Delivery]] = []
    for step in steps:
        for position, error in step.refused.items():
            refused.setdefault(step.owners[position], error)
        pending.extend((step, delivery) for delivery in step.deliveries)
    outcomes = await asyncio.gather(*(delivery.future for _, delivery in pending), return_exceptions=True)
    retries: list[tuple[int, Any]] = []
    for (step, delivery), outcome in zip(pending, outcomes, strict=True):
        if not isinstance(outcome, BaseException):
            continue
        if not isinstance(outcome, OUTPUT_SEND_ERRORS):
            raise outcome
        if len(delivery.positions) == 1:
            refused.setdefault(step.owners[delivery.positions[0]], outcome)
            continue
        for position in delivery.positions:  # which of the batch's outputs was it? ask one at a time
            try:
                retries.append((step.owners[position], await sender.send(step.outputs[position])))
            except OUTPUT_SEND_ERRORS as exc:
                refused.setdefault(step.owners[position], exc)
    again = await asyncio.gather(*(future for _, future in retries), return_exceptions=True)
    for (owner, _), outcome in zip(retries, again, strict=True):
        if isinstance(outcome, OUTPUT_SEND_ERRORS):
            refused.setdefault(owner, outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
    return refused


def as_sender(send: SendFn | OutputSender) -> OutputSender:
    return send if isinstance(send, OutputSender) else OneByOne(send)


async def send_outputs(send: SendFn | OutputSender, results: Sequence[Any]) -> dict[int, BaseException]:
    """Send every output and wait for the broker's acknowledgements. Returns, per result index, the
    error of an output refused because of that output; any other failure (the broker away) raises."""
    sender = as_sender(send)
    return await settle(sender, [await enqueue(sender, results)])


#: Steps pay where a message's processing is long beside a hand-off to the worker thread (detection runs in
#: the model runtime, which releases the GIL, while the event loop sends): below this many seconds of
#: processing per message (structured records take well under a millisecond) a batch goes in one step, as
#: the hand-offs and the event loop's turns at the GIL cost more than the overlap gains.
STEP_WORTH_SECONDS = 0.002
#: A batch of such messages (under STEP_WORTH_SECONDS each) expected to take no longer than this in all is
#: processed on the event loop itself: no hand-off to the worker thread and back (a thread switch, a
#: wake-up of the loop, both threads taking turns at the GIL): structured records drained 1.13x as fast
#: (bench/README.md). The loop is held that long at most (heartbeats run every few seconds).
INLINE_SECONDS = 0.05
#: Messages of an inline batch processed first and timed: the rest follows on the loop only if it is
#: expected to stay within INLINE_SECONDS, so a batch far costlier than the ones before holds the loop
#: for these few messages only, and the rest goes to the worker thread.
INLINE_PROBE = 8


class StepSize:
    """``PHI_BATCH_STEP`` where the batches so far were worth stepping, one step where they were not."""

    def __init__(self, configured: int) -> None:
        self.configured = configured
        self.per_message: float | None = None  # processing seconds per message, smoothed over batches

    def __call__(self) -> int:
        if self.per_message is not None and self.per_message < STEP_WORTH_SECONDS:
            return 0
        return self.configured

    def inline(self, messages: int) -> float:
        """Seconds a batch of ``messages`` may take on the event loop (:func:`process_and_enqueue`'s
        ``inline_seconds``): INLINE_SECONDS where the batches so far say it fits, 0 (the worker thread)
        where they say it does not or nothing was measured yet."""
        cost = self.per_message
        if cost is not None and cost < STEP_WORTH_SECONDS and cost * messages <= INLINE_SECONDS:
            return INLINE_SECONDS
        return 0.0

    def observe(self, messages: int, seconds: float) -> None:
        if messages:
            now = seconds / messages
            self.per_message = now if self.per_message is None else (self.per_message + now) / 2


def chunks(messages: list[InboundMessage], size: int | None) -> list[list[InboundMessage]]:
    """A batch in steps of ``size`` messages (None or 0: one step)."""
    step = size or len(messages) or 1
    return [messages[i : i + step] for i in range(0, len(messages), step)]


async def run_batch(
    send: SendFn | OutputSender,
    process: Callable[[list[InboundMessage]], Sequence[Any]],
    messages: Sequence[InboundMessage],
    on_refused: Callable[[Any, BaseException], Any] | None = None,
    chunk_size: int | None = None,
) -> list[Any]:
    """Process in a worker thread (detection and generation are CPU work that must not starve
    heartbeats), send every output, and wait for the broker's acknowledgements.

    With ``chunk_size``, the batch is processed in steps of that many messages, one after the other in
    the worker thread, and each step's outputs are handed to the producer while the thread works on the
    next: sending and encoding on the event loop overlap detection in the thread (which releases the GIL
    in the model runtime). Steps are processed and enqueued in input order, so audit chains reach their
    topic in the order they were chained, and every acknowledgement of every step is awaited before this
    returns, so the batch's offsets are committed only after all of its outputs are on the broker.

    An output refused because of itself (too large, invalid) is replaced by ``on_refused``'s dead letter
    for that message and the batch goes on. One message's processing failure never gets here (the core
    dead-letters it). Only a failure of the broker (or a batch that fails as a whole) stops the worker,
    without committing, and the log says which of the two it was."""
    sender = as_sender(send)
    results, enqueued = await process_and_enqueue(sender, process, messages, chunk_size)
    return await settle_batch(sender, results, enqueued, on_refused)


async def process_and_enqueue(
    sender: OutputSender,
    process: Callable[[list[InboundMessage]], Sequence[Any]],
    messages: Sequence[InboundMessage],
    chunk_size: int | None = None,
    inline_seconds: float = 0.0,
) -> tuple[list[Any], list[_Enqueued]]:
    """:func:`run_batch`'s first half: every message processed and its outputs handed to the producer,
    in input order; the acknowledgements are not awaited (:func:`settle_batch` does).

    With ``inline_seconds`` (:meth:`StepSize.inline`), the first INLINE_PROBE messages are processed on
    the event loop itself and timed, and the rest follows them there where it is expected to take no
    longer than ``inline_seconds``; whatever is left goes to the worker thread in steps as above."""
    loop = asyncio.get_running_loop()
    pending = list(messages)
    results: list[Any] = []
    enqueued: list[_Enqueued] = []
    if inline_seconds > 0 and pending:
        probe, pending = pending[:INLINE_PROBE], pending[INLINE_PROBE:]
        started = time.perf_counter()
        await _process_here(sender, process, probe, results, enqueued)
        if pending and (time.perf_counter() - started) / len(probe) * len(pending) <= inline_seconds:
            await _process_here(sender, process, pending, results, enqueued)
            pending = []  # else costlier than the batches before: the rest in the worker thread
    steps = chunks(pending, chunk_size) if pending else []
    upcoming = loop.run_in_executor(None, process, steps[0]) if steps else None
    for number in range(len(steps)):
        try:
            done = list(await upcoming)  # type: ignore[misc]
        except Exception as exc:
            exit_without_commit(exc, PROCESSING_FAILURE)
        if number + 1 < len(steps):
            upcoming = loop.run_in_executor(None, process, steps[number + 1])
        await _enqueue_or_exit(sender, done, results, enqueued)
    return results, enqueued


async def _process_here(
    sender: OutputSender,
    process: Callable[[list[InboundMessage]], Sequence[Any]],
    messages: list[InboundMessage],
    results: list[Any],
    enqueued: list[_Enqueued],
) -> None:
    """``messages`` processed on the event loop and their outputs handed to the producer."""
    try:
        done = list(process(messages))
    except Exception as exc:
        exit_without_commit(exc, PROCESSING_FAILURE)
    await _enqueue_or_exit(sender, done, results, enqueued)


async def _enqueue_or_exit(
    sender: OutputSender, done: list[Any], results: list[Any], enqueued: list[_Enqueued]
) -> None:
    """``done``'s outputs handed to the producer (the worker exits where it cannot take them), ``done``
    added to ``results``."""
    try:
        enqueued.append(await enqueue(sender, done, len(results)))
    except Exception as exc:
        exit_without_commit(exc, SEND_FAILURE)
    results.extend(done)


async def settle_batch(
    sender: OutputSender,
    results: list[Any],
    enqueued: Sequence[_Enqueued],
    on_refused: Callable[[Any, BaseException], Any] | None = None,
) -> list[Any]:
    """:func:`run_batch`'s second half: every acknowledgement awaited, each refused output replaced by
    ``on_refused``'s dead letter for its message (sent and acknowledged too); a broker failure exits."""
    try:
        refused = await settle(sender, enqueued)
        if refused and on_refused is None:
            raise next(iter(refused.values()))
        if refused:
            replacements = {}
            for index, error in refused.items():
                refused_input = results[index].inbound
                log.warning(
                    "%s: an output was refused (%s); the message is dead-lettered (output-rejected), the batch goes on",
                    refused_input.source if refused_input is not None else "?",
                    type(error).__name__,
                )
                replacements[index] = on_refused(results[index], error)
            again = await send_outputs(sender, list(replacements.values()))
            if again:
                raise next(iter(again.values()))
            for index, replacement in replacements.items():
                results[index] = replacement
    except Exception as exc:
        exit_without_commit(exc, SEND_FAILURE)
    return results


async def start_outputs(outputs: OutputProducer) -> OutputSender:
    """The output producer, started; a worker that cannot start it exits (a restart tries again) rather
    than run an agent that cannot send."""
    try:
        return await outputs.acquire()
    except Exception as exc:
        exit_without_commit(exc, SEND_FAILURE)


def record_lag(app: faust.App, metrics: PipelineMetrics, events: Sequence[Any]) -> None:
    """Messages behind the high-water mark, per partition just processed (tansu's figures run high: see README)."""
    last: dict[Any, int] = {}
    for event in events:
        message = event.message
        last[message.tp] = max(last.get(message.tp, -1), message.offset)
    for tp, offset in last.items():
        highwater = app.consumer.highwater(tp)
        if highwater is None:  # unknown until the first fetch response for the partition
            continue
        metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - offset - 1))


def record_batch_lag(source: BatchConsumer, metrics: PipelineMetrics, messages: Sequence[InboundMessage]) -> None:
    """:func:`record_lag` for the redaction agent's own consumer."""
    for tp, behind in source.lag(messages).items():
        metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(behind)


def create_app(
    settings: Settings,
    metrics: PipelineMetrics,
    *,
    processor: RecordProcessor | None,
    summaries: SummaryProcessor | None = None,
    custody_check: Callable[[], None] | None = None,
) -> faust.App:
    """A faust app with the redaction agent, the summary agent, or both.

    A summary-only worker joins a consumer group of its own (``<group>-summarizer``), so summarizer
    replicas scale apart from redaction workers and never hold up redaction.
    """
    if processor is None and summaries is None:
        raise ValueError("a worker needs at least one agent")
    guard = CustodyGuard(settings.custody_grace_seconds, "worker") if custody_check is not None else None
    metrics.prime_worker(redaction=processor is not None, summaries=summaries is not None)
    batches = _BatchesInFlight()
    commits: list[Callable[[], Awaitable[Any]]] = []  # what to commit when custody is lost
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    app_id = settings.group_id if processor is not None else f"{settings.group_id}-summarizer"
    app = faust.App(app_id, **faust_settings(settings))
    # faust's own consumer serves only the summary agent; a redaction-only worker does not start it
    # (the redaction agent has a consumer of its own, and faust's would join the group with nothing to read)
    app.boot_strategy = BootStrategy(app, enable_kafka_consumer=summaries is not None)
    ingest = (
        BatchConsumer(
            settings,
            settings.topic_ingest,
            settings.group_id,
            settings.batch_size,
            settings.batch_timeout,
            # faust's protocol: members of an earlier release, and this worker's faust consumer, share the group
            assignor=app.conf.PartitionAssignor(app, replicas=app.conf.table_standby_replicas),
        )
        if processor is not None
        else None
    )
    assignments: list[Callable[[], Iterable[Any]]] = [ingest.assignment] if ingest is not None else []
    if summaries is not None:
        assignments.append(lambda: app.consumer.assignment())
        commits.append(lambda: app.consumer.commit())  # the summary agent's acknowledged events
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    health = HealthServer(
        metrics,
        settings.metrics_bind,
        settings.metrics_port,
        settings.metrics_token,
        ready=lambda: _readiness(assignments),
        tls=server_tls(settings.metrics_tls_certfile, settings.metrics_tls_keyfile),
    )

    outputs = OutputProducer(
        settings,
        producer_max_request_size(settings),
        min(
            MAX_BATCH_BYTES,
            producer_max_request_size(settings),
            processor.max_output_bytes if processor else MAX_BATCH_BYTES,
        ),
    )

    if processor is not None and ingest is not None:
        commits.append(ingest.flush)
        stage_seconds: Counter[str] = Counter()
        model_seconds: Counter[str] = Counter()
        step_size = StepSize(settings.batch_step)
        process_seconds: list[float] = []  # each step's processing time, on the worker thread or the loop

        def process(messages: list[InboundMessage]) -> list[ProcessResult]:
            # on the worker thread (on the loop for a cheap batch), a step at a time; totals read after the batch
            started = time.perf_counter()
            results = processor.process_batch(messages)
            stage_seconds.update(processor.batch_seconds)
            model_seconds.update(processor.detector.last_model_seconds)
            process_seconds.append(time.perf_counter() - started)
            return results

        async def redact_batch(sender: OutputSender, messages: list[InboundMessage]) -> None:
            await batches.begin(commits, guard)
            started = time.perf_counter()
            stage_seconds.clear()
            process_seconds.clear()
            model_seconds.clear()
            results, enqueued = await process_and_enqueue(
                sender, process, messages, step_size(), step_size.inline(len(messages))
            )
            results = await settle_batch(sender, results, enqueued, processor.send_failed)
            step_size.observe(len(messages), sum(process_seconds))
            ingest.done(messages)  # every output behind these offsets is on the broker: commit them
            record_metrics(metrics, results, time.perf_counter() - started)
            for stage, seconds in stage_seconds.items():
                metrics.stage_seconds.labels(stage).observe(seconds)
            for model, seconds in model_seconds.items():
                metrics.model_seconds.labels(model).observe(seconds)
            record_batch_lag(ingest, metrics, messages)
            await batches.end(commits, guard)

        @app.task
        async def redact() -> None:
            sender = await start_outputs(outputs)
            try:
                await ingest.start()
                frozen = False
                while True:
                    async with ingest.batch() as messages:
                        if messages:
                            await redact_batch(sender, messages)
                    if messages and not frozen:  # after the first batch: its lazy loads are long-lived too
                        freeze_heap()
                        frozen = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the batch in hand is not committed: the restarted worker reads it again
                exit_without_commit(exc, CONSUME_FAILURE)
            finally:
                await ingest.stop()
                await outputs.release()

    if summaries is not None:

        @app.agent(app.topic(settings.topic_redacted, **raw), name="summarize")
        async def summarize(stream: faust.StreamT) -> None:
            sender = await start_outputs(outputs)
            try:
                async for events in stream.take_events(settings.summary_batch_size, within=settings.batch_timeout):
                    await batches.begin(commits, guard)
                    started = time.perf_counter()
                    messages = [inbound(event.message) for event in events]
                    results = await run_batch(sender, summaries.process_batch, messages)
                    metrics.stage_seconds.labels("summarize").observe(time.perf_counter() - started)
                    for result in results:
                        metrics.summaries.labels(result.outcome).inc()
                    metrics.last_progress.set(time.time())
                    record_lag(app, metrics, events)
                    await batches.end(commits, guard, functools.partial(_ack_all, stream, events))
            finally:
                await outputs.release()

    if settings.metrics_port:

        @app.task
        async def start_health() -> None:
            await health.start()

    if custody_check is not None and guard is not None:

        @app.timer(interval=settings.openbao_check_interval)
        async def check_key_custody() -> None:
            # A seal or a revoked policy stops the worker at the next check, silence after the grace; a batch
            # being processed finishes (outputs sent, offsets committed) and the worker takes no other.
            if await guard.check(custody_check) is not None and not batches.busy:
                await _commit_and_exit(commits, guard)

    return app


class _BatchesInFlight:
    """How many batches the agents are processing, and what to do when key custody is lost meanwhile.

    A batch taken after custody was lost is left alone (not committed: another worker takes it once
    this one has gone); a batch that finishes after the loss is committed (the redaction agent commits
    every batch; the summary agent's events are acknowledged here, for faust to commit), and once no agent
    has a batch in hand the offsets of every finished batch are committed and the worker exits. Either
    way every input ends as exactly one output or dead letter, and none is processed twice.
    """

    def __init__(self) -> None:
        self.busy = 0

    async def begin(self, commits: Sequence[Callable[[], Awaitable[Any]]], guard: CustodyGuard | None) -> None:
        if guard is not None and guard.lost is not None:
            await self._leave(commits, guard)
        self.busy += 1

    async def end(
        self,
        commits: Sequence[Callable[[], Awaitable[Any]]],
        guard: CustodyGuard | None,
        acknowledge: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.busy -= 1
        if guard is not None and guard.lost is not None:
            if acknowledge is not None:  # take_events would acknowledge its events only when asked for the next batch
                await acknowledge()
            await self._leave(commits, guard)

    async def _leave(self, commits: Sequence[Callable[[], Awaitable[Any]]], guard: CustodyGuard) -> None:
        if not self.busy:
            await _commit_and_exit(commits, guard)
        await asyncio.Event().wait()  # the other agent's batch ends the process when it finishes


async def _ack_all(stream: faust.StreamT, events: Sequence[Any]) -> None:
    for event in events:
        await stream.ack(event)


async def _commit_and_exit(commits: Sequence[Callable[[], Awaitable[Any]]], guard: CustodyGuard) -> NoReturn:
    """Commit the acknowledged offsets (every output behind them was acknowledged by the broker) and exit."""
    assert guard.lost is not None
    code = exit_code(guard.lost)
    try:
        for commit in commits:
            for _ in range(2):  # the first may only wait for a commit already under way
                await commit()
        log.critical("key custody lost: offsets of every finished batch committed; exiting with status %d", code)
    except Exception as exc:  # the uncommitted batches are processed again by the next worker: never lost
        log.critical("key custody lost; committing offsets failed (%s); exiting with status %d", type(exc).__name__,
                     code)  # fmt: skip
    logging.shutdown()
    os._exit(code)


def _readiness(assignments: Sequence[Callable[[], Iterable[Any]]]) -> tuple[bool, str]:
    """Ready once the agents' consumers hold partitions between them."""
    try:
        held = sum(len(list(assigned())) for assigned in assignments)
    except Exception:  # consumer not started yet
        return False, "starting"
    if not held:
        return False, "no partitions assigned"
    return True, f"ready: {held} partitions"
