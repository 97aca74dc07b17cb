"""Faults under steady load on the real broker: nothing lost, duplicates counted.

Two workers share one consumer group while records arrive at a steady rate. Each scenario injects a
fault: SIGKILL of a worker mid-stream and a restart; repeated graceful stop and start; a worker frozen
(SIGSTOP) past its session timeout, then thawed (a slow consumer or a long GC pause). Afterwards every
input's message id must be found among the outputs or the dead letters (duplicates are allowed under
at-least-once and are counted), and every audit chain must still verify.

Size: PHI_FAULT_RECORDS records per scenario (default 400 in CI, sent at PHI_FAULT_RATE=80 per second);
the full size is PHI_FAULT_RECORDS=2000.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from pipeline.config import Settings
from pipeline.core.crypto.audit_chain import verify_chain
from pipeline.devtools.inputs import SignedInput, encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces.embedded_broker import free_port
from pipeline.interfaces.processes import spawn_worker, stop_process
from pipeline.stream.clients import decode_output
from pipeline.stream.kafka_options import client_options
from tests.conftest import isolated_settings
from tests.e2e.helpers import log_tail, message_id, read_outputs

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RECORDS = int(os.environ.get("PHI_FAULT_RECORDS", "400"))
RATE = float(os.environ.get("PHI_FAULT_RATE", "80"))
RESULTS: list[dict[str, object]] = []


class Worker:
    """One ``phi-pipeline worker`` child process that can be killed, stopped, frozen and restarted."""

    def __init__(self, settings: Settings, name: str, log: Path) -> None:
        self.port = free_port()
        self.settings = settings
        self.env = {"PHI_WORKER_ID": name, "PHI_LOG_LEVEL": "WARNING", "PHI_METRICS_PORT": str(self.port)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = spawn_worker(self.settings, self.log, extra_env=self.env)

    def ready(self) -> bool:
        """/readyz answers 200 once the worker has partitions assigned."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1):
                return True
        except OSError:
            return False

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen worker cannot handle SIGTERM
            stop_process(self.process)


def _paced_producer(settings: Settings, inputs: list[SignedInput], sent: list[int]) -> threading.Thread:
    async def run() -> None:
        producer = AIOKafkaProducer(**client_options(settings), acks="all", linger_ms=5)
        await producer.start()
        start = time.monotonic()
        try:
            for i, item in enumerate(inputs):
                await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
                await producer.send(settings.topic_ingest, item.value, key=item.key, headers=item.headers)
                sent[0] = i + 1
            await producer.flush()
        finally:
            await producer.stop()

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    return thread


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


def _kill_and_restart(workers: list[Worker], sent: list[int]) -> None:
    _wait_for(lambda: sent[0] >= RECORDS // 3, 120)
    workers[0].signal(signal.SIGKILL)
    workers[0].process.wait(10)
    time.sleep(2)
    workers[0].start()


def _stop_start_repeatedly(workers: list[Worker], sent: list[int]) -> None:
    for round_ in range(3):
        _wait_for(lambda r=round_: sent[0] >= RECORDS * (r + 1) // 4, 120)
        workers[1].stop()
        time.sleep(1.5)
        workers[1].start()


def _freeze_past_session_timeout(workers: list[Worker], sent: list[int]) -> None:
    _wait_for(lambda: sent[0] >= RECORDS // 3, 120)
    workers[0].signal(signal.SIGSTOP)
    time.sleep(8)  # twice the 4 s session timeout: the group rebalances without it
    workers[0].signal(signal.SIGCONT)


SCENARIOS = {
    "sigkill-and-restart": _kill_and_restart,
    "stop-start-x3": _stop_start_repeatedly,
    "frozen-worker": _freeze_past_session_timeout,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_nothing_is_lost_under_faults(scenario, base_settings, broker, registry, keyring, tmp_path):
    settings = isolated_settings(base_settings, broker, f"fault-{scenario}")
    entry = registry.get("clinical_record")
    records = list(synthetic_records(RECORDS, seed=hash(scenario) % 1000))
    inputs = [signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key) for r in records]
    workers = [Worker(settings, f"w{i}-{scenario}", tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        _wait_for(lambda: all(w.ready() for w in workers), 60)  # both in the group before the load starts
        sent = [0]
        producer = _paced_producer(settings, inputs, sent)
        SCENARIOS[scenario](workers, sent)
        producer.join(timeout=RECORDS / RATE + 60)
        expected = {i.message_id for i in inputs}
        outputs = read_outputs(settings, expected, timeout=180)
    finally:
        for worker in workers:
            worker.stop()
    seen = Counter(message_id(m) for m in outputs if m.topic in (settings.topic_redacted, settings.topic_deadletter))
    missing = expected - set(seen)
    duplicates = sum(n - 1 for mid, n in seen.items() if mid in expected)
    dead = sum(1 for m in outputs if m.topic == settings.topic_deadletter)
    RESULTS.append(
        {
            "scenario": scenario,
            "in": len(expected),
            "out": len(seen),
            "dead": dead,
            "duplicates": duplicates,
            "lost": len(missing),
        }
    )
    print(
        f"\nfault scenario {scenario}: in={len(expected)} distinct_out={len(seen)} dead_letters={dead} "
        f"duplicates={duplicates} lost={len(missing)}"
    )
    assert not missing, f"{len(missing)} lost\n{log_tail(workers[0].log)}\n{log_tail(workers[1].log)}"
    audits = sorted((m for m in outputs if m.topic == settings.topic_audit), key=lambda m: (m.partition, m.offset))
    report = verify_chain([decode_output(registry, m) for m in audits], keyring, allow_duplicates=True)
    assert report.ok, report.summary()
