"""The faust app: thin wiring from Kafka topics to :class:`RecordProcessor` and back.

One agent reads ``phi.ingest`` in batches (``take_events``), hands the raw messages to the core in a
worker thread (detection is CPU work and must not starve heartbeats), sends each result's outputs,
and waits until the broker has acknowledged all of them before the batch's input offsets may be
committed. That order is what makes the pipeline at-least-once: a crash before the acknowledgement
replays the batch, and replays carry the same message ids.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import faust

from pipeline.config import Settings
from pipeline.core.processing import InboundMessage, ProcessResult, RecordProcessor, output_limit
from pipeline.core.summarizing import SummaryProcessor
from pipeline.stream.kafka_options import faust_broker_url, faust_credentials
from pipeline.stream.metrics import HealthServer, PipelineMetrics, server_tls

log = logging.getLogger(__name__)
EXIT_SEND_FAILED = 75  # EX_TEMPFAIL: restart and try again


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    if raw is None:
        return ()
    items = raw.items() if isinstance(raw, Mapping) else raw
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in items)


def inbound(message: Any) -> InboundMessage:
    """faust's Message -> the core's InboundMessage (bytes only; no decoding here)."""
    return InboundMessage(
        value=message.value,
        key=message.key,
        headers=_headers(message.headers),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


def record_metrics(metrics: PipelineMetrics, results: Sequence[ProcessResult], seconds: float) -> None:
    metrics.batch_size.observe(len(results))
    metrics.stage_seconds.labels("batch").observe(seconds)
    for result in results:
        metrics.messages.labels(result.stage, result.outcome).inc()
        if result.outcome == "deadletter":
            metrics.dead_letters.labels(result.reason or "unknown", result.stage).inc()
            if result.hmac_failed:
                metrics.hmac_failures.labels(result.reason or "unknown").inc()
        for (phi_type, detector), count in result.entities.items():
            metrics.entities.labels(phi_type, detector).inc(count)
    metrics.last_progress.set(time.time())


def faust_settings(settings: Settings) -> dict[str, Any]:
    """faust's configuration for the pipeline (also used by the benchmark's faust pass-through)."""
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
        "producer_max_request_size": output_limit(settings.max_message_bytes) + 65_536,
        "consumer_max_fetch_size": max(settings.max_message_bytes * 2, 4_194_304),
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "topic_partitions": settings.partitions,
        "web_enabled": False,
        "datadir": str(settings.data_dir / "faust"),
        "store": "memory://",
    }


def exit_without_commit(exc: BaseException) -> NoReturn:
    """Stop the process at once when a batch's outputs cannot be sent.

    faust's ``take_events`` acknowledges a batch's input events when the loop body is left, even by an
    exception, and acknowledged offsets get committed: a batch whose outputs were not sent would then be
    lost. Exiting before that (no ``finally`` runs) leaves the offsets uncommitted, so the restarted
    worker (Kubernetes, systemd, the tests) processes the batch again: at-least-once, never lost.
    """
    log.critical(
        "cannot send a batch's outputs (%s); exiting without committing so the batch is processed again",
        type(exc).__name__,
    )
    logging.shutdown()
    os._exit(EXIT_SEND_FAILED)


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


def create_app(
    settings: Settings,
    metrics: PipelineMetrics,
    *,
    processor: RecordProcessor | None,
    summaries: SummaryProcessor | None = None,
) -> faust.App:
    """A faust app with the redaction agent, the summary agent, or both.

    A summary-only worker joins a consumer group of its own (``<group>-summarizer``), so summarizer
    replicas scale apart from redaction workers and never hold up redaction.
    """
    if processor is None and summaries is None:
        raise ValueError("a worker needs at least one agent")
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    app_id = settings.group_id if processor is not None else f"{settings.group_id}-summarizer"
    app = faust.App(app_id, **faust_settings(settings))
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    topics = {
        "redacted": settings.topic_redacted,
        "deadletter": settings.topic_deadletter,
        "audit": settings.topic_audit,
        "summary": settings.topic_summaries,
    }
    health = HealthServer(
        metrics,
        settings.metrics_bind,
        settings.metrics_port,
        settings.metrics_token,
        ready=lambda: _readiness(app),
        tls=server_tls(settings.metrics_tls_certfile, settings.metrics_tls_keyfile),
    )

    async def run_batch(process: Callable[[list[InboundMessage]], Sequence[Any]], events: Sequence[Any]) -> list[Any]:
        """Process in a worker thread (detection and generation are CPU work that must not starve
        heartbeats), send every output, and wait for the broker's acknowledgements."""
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(None, process, [inbound(event.message) for event in events])
            # faust's producer directly: the values are bytes already, so its topic and codec layers
            # would only add cost (a third of the per-message time on structured records).
            deliveries = [
                await app.producer.send(topics[out.role], out.key, out.value, None, None, list(out.headers))
                for result in results
                for out in result.outputs
            ]
            await asyncio.gather(*deliveries)  # acknowledged by the broker before the inputs are acked
        except Exception as exc:
            exit_without_commit(exc)
        return list(results)

    if processor is not None:

        @app.agent(app.topic(settings.topic_ingest, **raw), name="redact")
        async def redact(stream: faust.StreamT) -> None:
            async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout):
                started = time.perf_counter()
                results = await run_batch(processor.process_batch, events)
                record_metrics(metrics, results, time.perf_counter() - started)
                for stage, seconds in processor.batch_seconds.items():
                    metrics.stage_seconds.labels(stage).observe(seconds)
                for model, seconds in getattr(processor.detector, "last_model_seconds", {}).items():
                    metrics.model_seconds.labels(model).observe(seconds)
                record_lag(app, metrics, events)

    if summaries is not None:

        @app.agent(app.topic(settings.topic_redacted, **raw), name="summarize")
        async def summarize(stream: faust.StreamT) -> None:
            async for events in stream.take_events(settings.summary_batch_size, within=settings.batch_timeout):
                started = time.perf_counter()
                results = await run_batch(summaries.process_batch, events)
                metrics.stage_seconds.labels("summarize").observe(time.perf_counter() - started)
                for result in results:
                    metrics.summaries.labels(result.outcome).inc()
                metrics.last_progress.set(time.time())
                record_lag(app, metrics, events)

    if settings.metrics_port:

        @app.task
        async def start_health() -> None:
            await health.start()

    return app


def _readiness(app: faust.App) -> tuple[bool, str]:
    try:
        assigned = app.consumer.assignment()
    except Exception:  # consumer not started yet
        return False, "starting"
    if not assigned:
        return False, "no partitions assigned"
    return True, f"ready: {len(assigned)} partitions"
