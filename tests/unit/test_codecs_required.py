"""Every Kafka codec is read, and a worker that could not read one refuses to start, in one line.

A consumer that meets a batch it cannot decompress cannot skip it: before issue 31 an lz4 batch stopped the
worker with a traceback, and the restarted worker stopped again at the same offset. Now the codec library
(cramjam, aiokafka's extras) is a dependency, and without it the worker stops before connecting.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from aiokafka import codec

from pipeline.stream.kafka_options import CODECS


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_codec_round_trips(name):
    encode, decode = getattr(codec, f"{name}_encode"), getattr(codec, f"{name}_decode")
    payload = b"phi-pipeline batch " * 200
    assert CODECS[name]() and decode(encode(payload)) == payload


def test_worker_without_a_codec_library_stops_in_one_line(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['cramjam'] = None  # as if not installed\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    env["PHI_BOOTSTRAP_SERVERS"] = "127.0.0.1:9"  # never reached: the check comes before any connection
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.interfaces.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "snappy, lz4, zstd" in lines[0] and "aiokafka[lz4,snappy,zstd]" in lines[0]


@pytest.mark.parametrize(("name", "attribute"), [("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)])
def test_the_worker_writes_its_outputs_with_the_configured_codec(monkeypatch, name, attribute):
    """PHI_COMPRESSION_TYPE reaches the output producer: the record batches it builds carry that codec."""
    import asyncio

    from aiokafka.record.default_records import DefaultRecordBatch

    from pipeline.config import Settings
    from pipeline.stream import sending

    async def unstarted(settings, factory, closer):
        return factory()

    monkeypatch.setattr(sending, "start_client", unstarted)

    async def built() -> bytes:
        outputs = sending.OutputProducer(Settings.from_env({"PHI_COMPRESSION_TYPE": name}), 1_048_576)
        sender = await outputs.acquire()
        builder = sender._builder()
        builder.append(timestamp=None, key=b"k", value=b"phi-pipeline output " * 50, headers=[])
        builder.close()
        built = bytes(builder._build())  # the bytes the producer would send
        await sender.producer.stop()
        return built

    assert DefaultRecordBatch(asyncio.run(built())).compression_type == attribute
