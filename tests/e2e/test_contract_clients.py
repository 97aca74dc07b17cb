"""The wire contract from the outside: reference clients written from docs/contract.md, against one worker.

One worker on the embedded broker (writing gzip batches) for the whole module:
- the librdkafka producer (``clients/python-librdkafka``, confluent-kafka) sends records compressed with
  each Kafka codec (none, gzip, snappy, lz4, zstd), in JSON, schemaless Avro and Confluent framing: every
  record comes out, signed;
- the librdkafka consumer and the kafkajs consumer (``clients/node``) verify every output's HMAC and
  decode it with the shipped schema; the kafkajs producer's records are accepted too;
- ``consume`` takes every topic alias (``restricted`` included) and names a wrong topic in one line.
The clients import nothing from the pipeline; each skips when its runtime (confluent-kafka, node and
``npm ci``) is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.roles import OutputRole
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces.cli import main
from pipeline.stream.clients import Consumed
from tests.conftest import REPO_ROOT, isolated_settings
from tests.e2e.cli import run_cli
from tests.e2e.helpers import log_tail, read_outputs, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PY_CLIENT = REPO_ROOT / "clients" / "python-librdkafka"
NODE_CLIENT = REPO_ROOT / "clients" / "node"
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PER_CODEC = int(os.environ.get("CONTRACT_RECORDS_PER_CODEC", "8"))  # records per codec (and from kafkajs)


@dataclass
class Worker:
    settings: Settings
    keyring: Keyring
    producer_keys: Path  # `keys export --purpose ingest-hmac`: what a producer team is handed
    consumer_keys: Path  # `keys export --purpose egress-hmac`: what a consumer team is handed
    log: Path


def _jsonl(count: int, seed: int) -> str:
    return "".join(json.dumps(r.record) + "\n" for r in synthetic_records(count, seed=seed))


def _run(command: list[str], cwd: Path, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout)


def _sent_ids(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["message_id"] for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def worker(base_settings, broker, keyring, tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    settings = isolated_settings(base_settings, broker, "contract-clients").with_overrides(compression_type="gzip")
    keyring.save(folder / "keyring.json")
    handed = {}
    for purpose in ("ingest-hmac", "egress-hmac"):
        handed[purpose] = folder / f"{purpose}.json"
        command = ["keys", "export", "--path", str(folder / "keyring.json"), "--purpose", purpose]
        assert main([*command, "--out", str(handed[purpose])]) == 0
    log = folder / "worker.log"
    with worker_process(settings, log) as process:
        yield Worker(settings, keyring, handed["ingest-hmac"], handed["egress-hmac"], log)
        assert process.poll() is None, log_tail(log)


@pytest.fixture(scope="module")
def librdkafka_run(worker):
    """Records in through the librdkafka producer, PER_CODEC per codec; then every output read back."""
    pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed (the dev extra brings it)")
    sent: dict[str, list[str]] = {}
    for number, codec in enumerate(CODECS):
        encoding = ("json", "avro", "confluent")[number % 3]
        done = _run(
            [
                sys.executable,
                "producer.py",
                "--bootstrap",
                worker.settings.bootstrap_servers,
                "--keyring",
                str(worker.producer_keys),
                "--topic",
                worker.settings.topic_ingest,
                "--compression",
                codec,
                "--encoding",
                encoding,
                "--schema-file",
                str(REPO_ROOT / "schemas" / "clinical_record.avsc"),
            ],
            PY_CLIENT,
            _jsonl(PER_CODEC, seed=310 + number),
        )
        sent[codec] = _sent_ids(done)
    expected = {i for ids in sent.values() for i in ids}
    outputs = read_outputs(worker.settings, expected, timeout=240)
    return sent, outputs


def _by_id(outputs: list[Consumed], topic: str) -> dict[str, Consumed]:
    return {dict(m.headers)["phi-message-id"].decode(): m for m in outputs if m.topic == topic}


def test_every_codec_in_records_out_nothing_lost(worker, librdkafka_run):
    sent, outputs = librdkafka_run
    redacted = _by_id(outputs, worker.settings.topic_redacted)
    dead = _by_id(outputs, worker.settings.topic_deadletter)
    for codec, ids in sent.items():
        out = [i for i in ids if i in redacted]
        print(f"\ncodec {codec}: in={len(ids)} out={len(out)} dead_letters={sum(i in dead for i in ids)}")
        assert len(ids) == PER_CODEC and out == ids, (codec, log_tail(worker.log))
    for message in redacted.values():
        verify_headers(worker.keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
    assert "Traceback" not in worker.log.read_text(errors="replace")


def _consumer_args(worker: Worker, expected: int) -> list[str]:
    """The same options for both reference consumers: the redacted topic, decoded with the shipped schemas."""
    return [
        *("--bootstrap", worker.settings.bootstrap_servers, "--keyring", str(worker.consumer_keys)),
        *("--topic", worker.settings.topic_redacted, "--schemas", str(REPO_ROOT / "schemas")),
        *("--expect", str(expected), "--timeout", "90"),
    ]


def _consumer_lines(done: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_librdkafka_reference_consumer_verifies_every_output(worker, librdkafka_run):
    sent, _ = librdkafka_run
    expected = {i for ids in sent.values() for i in ids}
    done = _run([sys.executable, "consumer.py", *_consumer_args(worker, len(expected))], PY_CLIENT)
    lines = _consumer_lines(done)
    assert done.returncode == 0, done.stderr
    assert {line["message_id"] for line in lines} >= expected
    assert all(line["verified"] for line in lines)
    decoded = [line for line in lines if "value" in line]
    assert decoded and all(line["value"]["message_id"] == line["message_id"] for line in decoded)
    assert {line["schema"] for line in lines} == {"deidentified_clinical_record:1"}
    print(f"\nlibrdkafka consumer: {len(lines)} outputs read, {len(lines)} verified, {len(decoded)} decoded")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    if not (NODE_CLIENT / "node_modules" / "kafkajs").is_dir():
        pytest.skip("clients/node has no node_modules: run `npm ci` there (.ci/run does)")
    return node


def test_kafkajs_reference_producer_and_consumer(worker, librdkafka_run):
    node = _node()
    settings = worker.settings
    produced = _run(
        [
            node,
            "producer.js",
            "--bootstrap",
            settings.bootstrap_servers,
            "--keyring",
            str(worker.producer_keys),
            "--topic",
            settings.topic_ingest,
            "--gzip",
        ],
        NODE_CLIENT,
        _jsonl(PER_CODEC, seed=330),
    )
    node_ids = set(_sent_ids(produced))
    outputs = read_outputs(settings, node_ids, timeout=120)
    assert set(_by_id(outputs, settings.topic_redacted)) >= node_ids, log_tail(worker.log)
    sent, _ = librdkafka_run
    expected = node_ids | {i for ids in sent.values() for i in ids}
    done = _run([node, "consumer.js", *_consumer_args(worker, len(expected))], NODE_CLIENT)
    lines = _consumer_lines(done)
    assert done.returncode == 0, done.stderr
    missing = expected - {line["message_id"] for line in lines}
    assert not missing, f"{len(missing)} of {len(expected)} outputs not read; {len(lines)} lines; {done.stderr[-2000:]}"
    assert all(line["verified"] for line in lines)
    assert all(line["value"]["message_id"] == line["message_id"] for line in lines)
    print(f"\nkafkajs: {len(node_ids)} records in, {len(lines)} outputs read and verified")


def test_consume_takes_every_alias_and_names_a_wrong_topic(worker):
    from pipeline.interfaces.stream_commands import TOPIC_ALIASES, topic_for_alias

    settings = worker.settings
    assert {topic_for_alias(settings, a) for a in TOPIC_ALIASES} == {
        settings.topic_for(role) for role in OutputRole
    } | {settings.topic_ingest}
    restricted = run_cli(settings, "consume", "--topic", "restricted", "--verify", "--timeout", "3")
    assert restricted.returncode == 0 and "Traceback" not in restricted.stderr, restricted.stderr
    wrong = run_cli(settings, "consume", "--topic", "restricetd", "--timeout", "3")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().count("\n") == 0 and "restricetd" in wrong.stderr and "restricted" in wrong.stderr
