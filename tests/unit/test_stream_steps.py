"""A batch processed in steps: outputs handed over in input order while the next step is processed, every
acknowledgement awaited before ``run_batch`` returns, and a record batch the broker refuses settled output by
output. The sender's placement is aiokafka's default partitioner, checked against it for any key."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest
from aiokafka.errors import KafkaTimeoutError, RecordTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.audit_chain import verify_chain
from pipeline.stream import app as stream_app
from pipeline.stream.sending import Delivery, partition_for
from tests.unit.test_stream_send import Exited, events, exits, inbound_all, processor  # noqa: F401 (fixtures)


class SlowAcks:
    """A sender whose acknowledgements arrive only when the test lets them; records the order of
    hand-over and, per step, what was being processed in the worker thread at that moment."""

    def __init__(self, fail_batch_with=None, refuse_alone=lambda out: False):
        self.handed = []
        self.futures = []
        self.fail_batch_with = fail_batch_with
        self.refuse_alone = refuse_alone
        self.resent = []
        self.released = False

    async def send(self, out):
        self.resent.append(out)
        future = asyncio.get_running_loop().create_future()
        if self.refuse_alone(out):
            future.set_exception(RecordTooLargeError("this one"))
        else:
            future.set_result(None)
        return future

    async def send_many(self, outputs):
        self.handed.extend(outputs)
        future = asyncio.get_running_loop().create_future()
        self.futures.append((future, len(outputs)))
        if self.released:  # after the batch's acknowledgements: its replacements are taken at once
            future.set_result(None)
        return [Delivery(tuple(range(len(outputs))), future)], {}

    def acknowledge_all(self):
        self.released = True
        for future, _ in self.futures:
            if not future.done():
                if self.fail_batch_with is not None:
                    future.set_exception(self.fail_batch_with)
                else:
                    future.set_result(None)


def test_steps_keep_input_order_and_audit_chain_order(registry, keyring, processor, exits):  # noqa: F811
    batch = events(registry, keyring, 10)
    sender = SlowAcks()
    processed = []

    def process(messages):
        processed.append([m.offset for m in messages])
        return processor.process_batch(messages)

    async def scenario():
        task = asyncio.create_task(stream_app.run_batch(sender, process, inbound_all(batch), processor.send_failed, 3))
        while len(sender.futures) < 4 and not task.done():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not task.done(), "run_batch returned before the broker acknowledged its outputs"
        sender.acknowledge_all()
        return await task

    results = asyncio.run(scenario())
    assert not exits
    assert processed == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [r.inbound.offset for r in results] == list(range(10))
    assert [n for _, n in sender.futures] == [6, 6, 6, 2]  # a record and its audit event per message
    redacted_ids = [dict(o.headers)["phi-message-id"] for o in sender.handed if o.role == "redacted"]
    assert redacted_ids == [r.message_id.encode() for r in results]
    events_sent = [decode_avro(registry.get("audit_event"), o.value) for o in sender.handed if o.role == "audit"]
    assert [e["seq"] for e in events_sent] == list(range(10))
    assert verify_chain(events_sent, keyring).ok


def test_a_refused_record_batch_is_settled_output_by_output(registry, keyring, processor, exits):  # noqa: F811
    batch = events(registry, keyring, 4)
    culprit = {}

    def process(messages):
        results = processor.process_batch(messages)
        for result in results:
            if result.inbound.offset == 2:
                culprit["out"] = result.outputs[0]
        return results

    sender = SlowAcks(RecordTooLargeError("batch"), refuse_alone=lambda out: out is culprit["out"])

    async def scenario():
        task = asyncio.create_task(stream_app.run_batch(sender, process, inbound_all(batch), processor.send_failed, 2))
        while len(sender.futures) < 2 and not task.done():
            await asyncio.sleep(0.01)
        sender.acknowledge_all()
        return await task

    results = asyncio.run(scenario())
    assert not exits
    assert [r.reason for r in results] == [None, None, "output-rejected", None]
    assert len([o for o in sender.resent if o.role != "deadletter"]) == 8  # every output of both batches, alone


def test_a_broker_outage_in_any_step_stops_the_worker(registry, keyring, processor, exits):  # noqa: F811
    sender = SlowAcks(KafkaTimeoutError())

    async def scenario():
        task = asyncio.create_task(
            stream_app.run_batch(sender, processor.process_batch, inbound_all(events(registry, keyring, 5)), None, 2)
        )
        while len(sender.futures) < 3 and not task.done():
            await asyncio.sleep(0.01)
        sender.acknowledge_all()
        return await task

    with pytest.raises(Exited):
        asyncio.run(scenario())
    assert exits == [("KafkaTimeoutError", stream_app.SEND_FAILURE)]


def test_one_step_when_no_step_size_is_given():
    assert stream_app.chunks(list(range(5)), 0) == [[0, 1, 2, 3, 4]]
    assert stream_app.chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert stream_app.chunks([], 4) == []


@settings(deadline=None)
@given(st.binary(min_size=0, max_size=300), st.integers(min_value=1, max_value=64))
def test_placement_is_aiokafkas_default_partitioner(key, count):
    partitions = list(range(count))
    assert partition_for(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_without_a_key_goes_to_an_available_partition():
    assert {partition_for(None, [0, 1, 2, 3], [1, 3]) for _ in range(50)} <= {1, 3}


def test_metrics_counted_per_batch_equal_the_messages_counts(registry, keyring, processor):  # noqa: F811
    from pipeline.stream.metrics import PipelineMetrics

    batch = events(registry, keyring, 6)
    batch[2].message.headers = [(k, v) for k, v in batch[2].message.headers if k != "phi-hmac"]  # a dead letter
    results = processor.process_batch([stream_app.inbound(e.message) for e in batch])
    metrics = PipelineMetrics()
    stream_app.record_metrics(metrics, results, 0.1)

    def value(name, **labels):
        return metrics.registry.get_sample_value(name, labels) or 0.0

    by_outcome = {}
    for r in results:
        by_outcome[r.stage, r.outcome] = by_outcome.get((r.stage, r.outcome), 0) + 1
    assert len(by_outcome) == 2  # emitted and dead-lettered
    for (stage, outcome), count in by_outcome.items():
        assert value("phi_messages_total", stage=stage, outcome=outcome) == count
    failed = [r for r in results if r.outcome == "deadletter"]
    assert [r.hmac_failed for r in failed] == [True]
    assert value("phi_dead_letters_total", reason=failed[0].reason, stage=failed[0].stage) == 1
    assert value("phi_hmac_failures_total", reason=failed[0].reason) == 1
    entities = {}
    for r in results:
        for labels, count in r.entities.items():
            entities[labels] = entities.get(labels, 0) + count
    assert entities, "the synthetic records carry PHI"
    for (phi_type, detector), count in entities.items():
        assert value("phi_entities_total", phi_type=phi_type, detector=detector) == count


def test_batches_go_in_steps_only_while_processing_is_worth_a_hand_off():
    step = stream_app.StepSize(16)
    assert step() == 16  # nothing measured yet: as configured
    step.observe(64, 64 * 0.0003)  # structured records: a fraction of a millisecond each
    assert step() == 0
    step.observe(64, 64 * 0.030)  # notes: tens of milliseconds each
    assert step() == 16
    assert stream_app.StepSize(0)() == 0


def test_cheap_batches_are_processed_on_the_event_loop_only_while_measured_cheap():
    step = stream_app.StepSize(16)
    assert step.inline(64) == 0  # nothing measured yet: the worker thread
    step.observe(64, 64 * 0.0003)  # structured records
    assert step.inline(64) == stream_app.INLINE_SECONDS
    assert step.inline(100_000) == 0  # the whole batch would hold the loop too long
    step.observe(64, 64 * 0.030)  # notes
    assert step.inline(1) == 0


@pytest.mark.parametrize("costly", [False, True])
def test_inline_batches_keep_order_and_send_the_rest_to_the_thread_when_costlier(
    registry,
    keyring,
    processor,  # noqa: F811
    exits,  # noqa: F811
    costly,
):
    batch = events(registry, keyring, 12)
    sender = SlowAcks()
    where = []

    def process(messages):
        where.append((threading.current_thread() is threading.main_thread(), [m.offset for m in messages]))
        if costly and messages[0].offset == 0:  # the probe takes far longer than the budget allows for the rest
            time.sleep(0.15)  # 8 messages in 0.15 s: the other 4 expected to take 0.075 s, over 0.05
        return processor.process_batch(messages)

    async def scenario():
        enqueue = stream_app.process_and_enqueue(sender, process, inbound_all(batch), 0, 0.05)
        results, enqueued = await enqueue
        sender.acknowledge_all()
        return await stream_app.settle_batch(sender, results, enqueued, processor.send_failed)

    results = asyncio.run(scenario())
    assert not exits
    probe = list(range(stream_app.INLINE_PROBE))
    rest = list(range(stream_app.INLINE_PROBE, 12))
    assert where == [(True, probe), (not costly, rest)]  # the rest on the loop, or in the worker thread
    assert [r.inbound.offset for r in results] == list(range(12))
    events_sent = [decode_avro(registry.get("audit_event"), o.value) for o in sender.handed if o.role == "audit"]
    assert [e["seq"] for e in events_sent] == list(range(12))
    assert verify_chain(events_sent, keyring).ok


def test_the_heap_alive_after_the_first_batch_is_frozen_out_of_the_collectors_walks():
    kept = [{"long": "lived"} for _ in range(100)]
    gc.unfreeze()
    try:
        stream_app.freeze_heap()
        assert gc.get_freeze_count() >= len(kept)  # what is alive now is no longer walked by full collections
        assert gc.isenabled()  # young objects are still collected
    finally:
        gc.unfreeze()
