"""Reference producer (confluent-kafka / librdkafka): JSON records in, signed messages to the input topic.

    python producer.py --bootstrap 127.0.0.1:9092 --keyring keyring.json --topic phi.ingest \
        [--compression lz4] [--encoding json|avro|confluent] \
        [--schema-file ../../schemas/clinical_record.avsc] < records.jsonl

Prints one JSON line per message sent: {"message_id", "key"}. Written from docs/contract.md only.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys

from confluent_kafka import Producer
from phi_contract import HmacKeys, new_message_id, signed_headers


def encode(record: dict, encoding: str, parsed_schema: object | None, registry_id: int) -> bytes:
    if encoding == "json":
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    import fastavro  # schemaless Avro: the schema travels by name in phi-schema

    buffer = io.BytesIO()
    if encoding == "confluent":  # magic byte 0, then the 4-byte big-endian registry id, then Avro
        buffer.write(struct.pack(">bI", 0, registry_id))
    fastavro.schemaless_writer(buffer, parsed_schema, record)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--keyring", required=True)
    parser.add_argument("--topic", default="phi.ingest")
    parser.add_argument("--schema", default="clinical_record:1", help="the phi-schema header")
    parser.add_argument("--compression", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    parser.add_argument("--encoding", default="json", choices=["json", "avro", "confluent"])
    parser.add_argument("--schema-file", help="the .avsc file, for --encoding avro or confluent")
    parser.add_argument("--registry-id", type=int, default=1001, help="for --encoding confluent")
    parser.add_argument("--key-field", default="record_id")
    args = parser.parse_args()

    parsed = None
    if args.encoding != "json":
        import fastavro

        with open(args.schema_file, encoding="utf-8") as handle:
            parsed = fastavro.parse_schema(json.load(handle))
    key_id, material = HmacKeys(args.keyring).signing_key("ingest-hmac")
    producer = Producer(
        {"bootstrap.servers": args.bootstrap, "compression.type": args.compression, "linger.ms": 20, "acks": "all"}
    )
    failed: list[str] = []

    def delivered(error: object, message: object) -> None:
        if error is not None:
            failed.append(str(error))

    sent = []
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        key = str(record[args.key_field]).encode("utf-8")
        value = encode(record, args.encoding, parsed, args.registry_id)
        message_id = new_message_id()
        headers = signed_headers(key_id, material, message_id, args.schema, key, value)
        producer.produce(args.topic, value=value, key=key, headers=headers, on_delivery=delivered)
        producer.poll(0)
        sent.append({"message_id": message_id, "key": key.decode("utf-8")})
    remaining = producer.flush(30)
    if remaining or failed:
        print(f"error: {remaining} undelivered, {len(failed)} failed: {failed[:3]}", file=sys.stderr)
        return 1
    for item in sent:
        print(json.dumps(item))
    return 0


if __name__ == "__main__":
    sys.exit(main())
