"""Reference consumer (confluent-kafka / librdkafka): read output topics, verify every egress HMAC.

    python consumer.py --bootstrap 127.0.0.1:9092 --keyring keyring.json --topic phi.redacted \
        [--topic phi.deadletter ...] [--schemas ../../schemas] [--expect N] [--timeout 60]

Prints one JSON line per message: topic, message id, schema, verified (and the reason when not), and
with --schemas the record decoded with the shipped output schema its phi-schema header names.
Exit 1 if any message fails verification. Written from docs/contract.md only.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer
from phi_contract import ContractError, HmacKeys


def load_schemas(folder: str | None) -> dict[str, object]:
    """Output schemas by ``phi-schema`` value (``name:version``), from the shipped .avsc files."""
    if not folder:
        return {}
    import fastavro

    found = {}
    for path in sorted(Path(folder).glob("*.avsc")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        found[f"{path.stem}:{raw.get('version', 1)}"] = fastavro.parse_schema(raw)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--keyring", required=True)
    parser.add_argument("--topic", action="append", required=True)
    parser.add_argument("--schemas", help="folder of the shipped .avsc schemas, to decode Avro outputs")
    parser.add_argument("--expect", type=int, default=None, help="stop after this many messages")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    keys = HmacKeys(args.keyring)
    schemas = load_schemas(args.schemas)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"reference-py-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,  # the embedded broker (tansu) joins groups slowly with the default 45 s
            "heartbeat.interval.ms": 1000,
        }
    )
    consumer.subscribe(args.topic)
    failures = seen = 0
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and (args.expect is None or seen < args.expect):
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                print(f"error: {message.error()}", file=sys.stderr)
                continue
            seen += 1
            headers = [(name, value) for name, value in (message.headers() or [])]
            shown: dict[str, object] = {"topic": message.topic(), "partition": message.partition()}
            try:
                message_id, schema = keys.verify(headers, message.key(), message.value(), "egress-hmac")
                shown.update(message_id=message_id, schema=schema, verified=True)
                if schema in schemas:
                    import fastavro

                    shown["value"] = fastavro.schemaless_reader(io.BytesIO(message.value()), schemas[schema], None)
            except ContractError as exc:
                shown.update(verified=False, reason=exc.reason)
                failures += 1
            print(json.dumps(shown, default=str), flush=True)
    finally:
        consumer.close()
    print(f"{seen} messages, {failures} failed verification", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
