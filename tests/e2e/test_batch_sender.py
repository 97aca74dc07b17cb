"""The batch sender on the real broker: every output lands in the partition aiokafka's own ``send`` puts its
key in, in the order given, across several calls, and an output too large for the producer is refused
before it leaves (that output only)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from pipeline.core.messages import OutboundMessage
from pipeline.core.roles import OutputRole
from pipeline.stream.app import enqueue, settle
from pipeline.stream.clients import consume
from pipeline.stream.kafka_options import client_options
from pipeline.stream.sending import BatchSender


def _output(i: int, key: bytes | None, size: int = 40) -> OutboundMessage:
    return OutboundMessage(OutputRole.AUDIT, key, f"{i:06d}".encode().ljust(size, b"."), (("n", str(i).encode()),))


def test_outputs_land_where_send_puts_their_keys_in_order(topic_settings):
    settings = topic_settings
    keys = [f"chain-{i % 3}".encode() for i in range(60)] + [f"patient-{i}".encode() for i in range(40)]
    outputs = [_output(i, key) for i, key in enumerate(keys)]
    outputs.append(_output(len(keys), b"too-large", size=300_000))

    async def send_both() -> dict[bytes, int]:
        producer = AIOKafkaProducer(**client_options(settings), acks="all", max_batch_size=4096)
        await producer.start()
        try:
            sender = BatchSender(producer, settings.topic_for, max_request_size=200_000)
            steps = [await enqueue(sender, [_Result([o]) for o in outputs[i : i + 25]], i) for i in range(0, 101, 25)]
            refused = await settle(sender, steps)
            assert list(refused) == [100] and isinstance(refused[100], MessageSizeTooLargeError)
            # where aiokafka's own send puts each key, on a topic of the same partition count
            placed = {}
            for key in set(keys):
                meta = await (await producer.send(settings.topic_redacted, b"x", key=key))
                placed[key] = meta.partition
            return placed
        finally:
            await producer.stop()

    placed = asyncio.run(send_both())
    found = asyncio.run(consume(settings, [settings.topic_audit], until=lambda f: len(f) >= 100, timeout=60))
    assert len(found) == 100
    for message in found:
        assert message.partition == placed[message.key]
    for partition in {m.partition for m in found}:
        numbers = [int(dict(m.headers)["n"]) for m in sorted(found, key=lambda m: m.offset) if m.partition == partition]
        assert numbers == sorted(numbers), "outputs of one partition must keep the order they were given in"


class _Result:
    def __init__(self, outputs: list[OutboundMessage]) -> None:
        self.outputs = outputs
