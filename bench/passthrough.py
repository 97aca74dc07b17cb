"""Pass-through consumers for the pipeline benchmark: the cost of Kafka alone, to compare the pipeline with.

``raw``: an aiokafka consumer in a group that forwards each batch to the output topic, waits for the
acknowledgements, then commits: the same at-least-once contract the pipeline keeps. ``faust``: a
faust agent doing the same with ``take_events`` and the pipeline's own app settings. Both read the
``PHI_*`` settings from the environment like the worker does.

    python bench/passthrough.py raw|faust
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.config import Settings
from pipeline.stream.kafka_options import client_options


async def raw(settings: Settings) -> None:
    options = client_options(settings)
    consumer = AIOKafkaConsumer(
        settings.topic_ingest,
        **options,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_wait_ms=50,  # tansu answers a fetch only when the wait expires (faust hard-codes 1500)
    )
    producer = AIOKafkaProducer(**options, acks="all", linger_ms=5, max_request_size=4 * 1024 * 1024)
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=settings.batch_size)
            pending = []
            for records in batches.values():
                for r in records:
                    pending.append(
                        await producer.send(settings.topic_redacted, r.value, key=r.key, headers=list(r.headers))
                    )
            if pending:
                await asyncio.gather(*pending)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def faust_passthrough(settings: Settings) -> None:
    import faust

    from pipeline.stream.app import faust_settings

    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(settings.group_id, **faust_settings(settings))
    codec = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    source, sink = app.topic(settings.topic_ingest, **codec), app.topic(settings.topic_redacted, **codec)

    @app.agent(source)
    async def forward(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout):
            sent = [
                await sink.send(key=e.message.key, value=e.message.value, headers=list(e.message.headers or ()))
                for e in events
            ]
            await asyncio.gather(*sent)

    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "raw"
    current = Settings.from_env()
    if mode == "raw":
        asyncio.run(raw(current))
    elif mode == "faust":
        faust_passthrough(current)
    else:
        sys.exit("usage: passthrough.py raw|faust")
