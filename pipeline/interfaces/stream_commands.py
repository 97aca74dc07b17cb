"""``broker``, ``worker``, ``produce``, ``consume`` and ``demo``: the commands that touch Kafka."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from pipeline.config import Settings
from pipeline.core.codecs import conform
from pipeline.core.crypto.integrity import HEADER_HMAC, SignatureError, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.errors import ConfigError, RejectedMessage, SchemaError
from pipeline.core.schemas import SchemaEntry
from pipeline.interfaces.components import load_keyring, load_settings, open_keyring
from pipeline.interfaces.embedded_broker import EmbeddedBroker
from pipeline.runtime.assembly import build_processor, build_summary_processor, load_schemas
from pipeline.stream.admin import ensure_topics
from pipeline.stream.clients import Outgoing, UnknownTopicError, consume, decode_output, produce
from pipeline.stream.kafka_options import require_codecs
from pipeline.stream.tls_check import tls_preflight

if TYPE_CHECKING:
    from pipeline.core.processing import RecordProcessor
    from pipeline.core.summary_processing import SummaryProcessor
    from pipeline.devtools.inputs import SignedInput
    from pipeline.stream.metrics import PipelineMetrics

log = logging.getLogger(__name__)

#: ``produce --encoding`` choices: :data:`pipeline.devtools.inputs.ENCODINGS`, spelled out here so that
#: registering the command does not load producer helpers into the worker (a test keeps the two equal).
ENCODINGS = ("avro", "json", "confluent")
#: ``consume --topic`` aliases: each names the topic of the ``PHI_TOPIC_<ALIAS>`` setting.
TOPIC_ALIASES = ("ingest", "redacted", "restricted", "summaries", "deadletter", "audit")


def topic_for_alias(settings: Settings, name: str) -> str:
    """The topic an alias names (``restricted`` -> ``PHI_TOPIC_RESTRICTED``); any other name is a topic itself."""
    return getattr(settings, f"topic_{name}") if name in TOPIC_ALIASES else name


def register(subparsers: argparse._SubParsersAction) -> None:
    broker = subparsers.add_parser("broker", help="run the embedded Kafka-protocol broker (tansu) until Ctrl-C")
    broker.add_argument("--port", type=int, default=9092, help="port on 127.0.0.1 (0 picks a free one)")
    broker.add_argument("--no-topics", action="store_true", help="do not create the pipeline's topics")
    broker.set_defaults(func=_broker)

    worker = subparsers.add_parser("worker", help="run a pipeline worker (faust) against PHI_BOOTSTRAP_SERVERS")
    worker.add_argument(
        "--agents",
        default=None,
        help="comma-separated: redact, summarize (default: redact, plus summarize when PHI_SUMMARIZER_ENABLED)",
    )
    worker.set_defaults(func=_worker)

    prod = subparsers.add_parser("produce", help="send signed records to the input topic")
    source = prod.add_mutually_exclusive_group()
    source.add_argument("--count", type=int, default=10, help="synthetic records to generate (default 10)")
    source.add_argument("--file", type=Path, help="JSONL file of records, or an Avro container file (.avro)")
    prod.add_argument("--bad", type=int, default=0, help="also send this many hostile inputs (all kinds in turn)")
    prod.add_argument("--encoding", choices=ENCODINGS, default="avro")
    prod.add_argument("--seed", type=int, default=7)
    prod.add_argument("--no-notes", action="store_true", help="structured fields only, no free-text note")
    prod.set_defaults(func=_produce)

    cons = subparsers.add_parser("consume", help="print a topic's messages as JSON, decoded by their schema")
    cons.add_argument(
        "--topic",
        default="redacted",
        help=f"topic name, or one of the aliases {', '.join(TOPIC_ALIASES)} (the configured PHI_TOPIC_* names)",
    )
    cons.add_argument("--limit", type=int, default=None)
    cons.add_argument("--timeout", type=float, default=10.0, help="seconds to read (default 10)")
    cons.add_argument("--verify", action="store_true", help="check each message's egress HMAC; exit 1 on failure")
    cons.set_defaults(func=_consume)


def _broker(args: argparse.Namespace) -> int:
    settings = load_settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with EmbeddedBroker(port=args.port) as broker:
        if not args.no_topics:
            created = asyncio.run(ensure_topics(settings.with_overrides(bootstrap_servers=broker.bootstrap)))
            print(f"topics created: {', '.join(created) or 'none (all existed)'}")
        print(f"broker ready at {broker.bootstrap} (tansu, in memory); Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            if not broker.running:
                print("error: the broker exited unexpectedly", file=sys.stderr)
                return 1
    print("broker stopped")
    return 0


def _worker(args: argparse.Namespace) -> int:
    import faust

    from pipeline.stream.admin import topic_message_limits
    from pipeline.stream.app import apply_output_limits, create_app
    from pipeline.stream.metrics import PipelineMetrics

    settings = load_settings()
    require_codecs()  # before the models load: a consumer that meets a batch it cannot decompress never gets past it
    agents = _agents(args.agents, settings.summarizer_enabled)
    # Everything the worker needs is checked before it connects: a missing keyring, schema or model is a
    # configuration error (exit 2) an operator can fix, never a retry loop against the broker.
    custody = open_keyring(settings)
    processor = build_processor(settings, custody.keyring)
    summaries = build_summary_processor(settings, processor) if "summarize" in agents else None
    metrics = PipelineMetrics()
    announce_build(settings, processor, summaries, metrics)
    asyncio.run(ensure_topics(settings))
    outputs = [settings.topic_redacted, settings.topic_deadletter, settings.topic_audit, settings.topic_restricted]
    apply_output_limits(processor, settings, asyncio.run(topic_message_limits(settings, outputs)))
    asyncio.set_event_loop(asyncio.new_event_loop())  # faust takes the current loop; asyncio.run closed its own
    app = create_app(
        settings,
        metrics,
        processor=processor if "redact" in agents else None,
        summaries=summaries,
        custody_check=custody.check if custody.wrapped is not None else None,
    )
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()
    return 0


def announce_build(
    settings: Settings, processor: RecordProcessor, summaries: SummaryProcessor | None, metrics: PipelineMetrics
) -> str:
    """Name the detector in use in ``phi_build_info`` and the start-up log; returns the name."""
    from pipeline.runtime.detectors import describe_detector, execution_provider

    provider = execution_provider(processor.detector)
    model = describe_detector(processor.detector)
    summarizer = summaries.model_name if summaries is not None and summaries.model_name else "disabled"
    metrics.set_build_info(model, summarizer, provider, settings.execution_provider in ("cuda", "tensorrt"))
    where = "PHI_RULES_ONLY=true" if settings.rules_only else str(settings.detector_model)
    log.info("detector: %s (%s, provider %s)", model, where, provider)
    classifier = processor.deidentifier.classifier
    if classifier is None:
        log.info("sensitive-category classifier: off (PHI_SENSITIVE_CLASSIFIER=false)")
    else:
        policy = processor.deidentifier.sensitive_policy
        log.info("sensitive-category classifier: %s; policy %s", classifier.describe(), policy.describe())
    return model


def _agents(requested: str | None, summarizer_enabled: bool) -> set[str]:
    if requested is None:
        return {"redact", "summarize"} if summarizer_enabled else {"redact"}
    agents = {a.strip() for a in requested.split(",") if a.strip()}
    unknown = agents - {"redact", "summarize"}
    if unknown or not agents:
        raise ConfigError(f"--agents takes redact and/or summarize, not {', '.join(sorted(unknown)) or 'nothing'}")
    return agents


class InputFileError(ConfigError):
    """A record in a ``produce --file`` input cannot be sent; the message names its line and field, never a value."""


def _file_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for each record: ``file:line`` for JSONL, ``file record N`` for Avro containers."""
    if path.suffix == ".avro":
        import fastavro

        with path.open("rb") as handle:
            for number, record in enumerate(fastavro.reader(handle), 1):
                yield f"{path} record {number}", record
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputFileError(
                    f"{path}:{number}: not UTF-8 (byte {exc.start} of the line); convert the file to UTF-8"
                ) from None
            if line.strip():
                try:
                    yield f"{path}:{number}", json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputFileError(f"{path}:{number}: not JSON ({exc.msg})") from None


def _unencodable(value: Any, path: str = "record") -> str | None:
    """The path of the first string UTF-8 cannot encode (a lone surrogate such as \\ud800), if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
    elif isinstance(value, dict):
        for name, item in value.items():
            plain = isinstance(name, str) and name.isidentifier() and len(name) <= 64
            found = _unencodable(name, f"{path} (a field name)") or _unencodable(
                item, f"{path}.{name if plain else '<field>'}"
            )
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _encode_file_record(entry: SchemaEntry, record: Any, encoding: str, where: str) -> bytes:
    from pipeline.devtools.inputs import encode_record

    if not isinstance(record, dict):
        raise InputFileError(f"{where}: expected a JSON object (a record), got {type(record).__name__}")
    bad_text = _unencodable(record)
    if bad_text:
        raise InputFileError(
            f"{where}: {bad_text} holds text UTF-8 cannot encode (a lone UTF-16 surrogate such as \\ud800); "
            "fix or remove it at the source"
        )
    try:
        return encode_record(entry, record, encoding)
    except (SchemaError, UnicodeError):
        raise
    except Exception as exc:  # fastavro raises ValueError, TypeError, KeyError... and may quote the value
        try:
            conform(entry, record)
        except RejectedMessage as rejected:
            detail = rejected.detail
        else:
            detail = f"Avro encoding failed ({type(exc).__name__})"
        raise InputFileError(f"{where}: record does not fit schema {entry.ref}: {detail}") from None


def build_inputs(settings: Settings, args: argparse.Namespace) -> list[SignedInput]:
    """The signed messages ``produce`` sends: records from ``--file`` or synthetic ones, then ``--bad`` hostile ones."""
    from pipeline.devtools.inputs import encode_record, hostile_messages, signed_input
    from pipeline.devtools.synthetic import synthetic_records

    keyring = load_keyring(settings)
    entry = load_schemas(settings).get(settings.input_schema)
    if args.file:
        located = list(_file_records(args.file))  # the whole file parses before anything is encoded or sent
        records = [record for _, record in located]
        encoded = [_encode_file_record(entry, record, args.encoding, where) for where, record in located]
    else:
        records = [r.record for r in synthetic_records(args.count, args.seed, with_notes=not args.no_notes)]
        encoded = [encode_record(entry, rec, args.encoding) for rec in records]
    key_field = entry.raw.get("key_field", "record_id")
    inputs = [
        signed_input(keyring, entry.ref, value, str(rec.get(key_field, "")))
        for rec, value in zip(records, encoded, strict=True)
    ]
    if args.bad and records:
        hostile = hostile_messages(keyring, entry, records[0], "hostile", settings.max_message_bytes)
        inputs.extend(hostile[i % len(hostile)].message for i in range(args.bad))
    return inputs


def _produce(args: argparse.Namespace) -> int:
    settings = load_settings()
    tls_preflight(settings)
    inputs = build_inputs(settings, args)
    with tqdm(total=len(inputs), unit="msg", desc="sent", disable=len(inputs) < 1000 or not sys.stderr.isatty()) as bar:

        def progress(sent: int) -> None:
            bar.n = sent
            bar.refresh()

        messages = [Outgoing(i.key, i.value, i.headers) for i in inputs]
        sent = asyncio.run(produce(settings, settings.topic_ingest, messages, on_sent=progress))
    print(f"sent {sent} signed messages to {settings.topic_ingest}")
    return 0


def _consume(args: argparse.Namespace) -> int:
    settings = load_settings()
    topic = topic_for_alias(settings, args.topic)
    tls_preflight(settings)
    registry = load_schemas(settings)
    keyring = load_keyring(settings) if args.verify else None
    try:
        messages = asyncio.run(consume(settings, [topic], timeout=args.timeout, idle_timeout=2.0, limit=args.limit))
    except UnknownTopicError as exc:
        raise ConfigError(f"{exc}; --topic takes a topic name or one of {', '.join(TOPIC_ALIASES)}") from None
    failures = 0
    for message in messages[: args.limit]:
        shown: dict[str, Any] = {"partition": message.partition, "offset": message.offset}
        if keyring is not None:
            try:
                verified = verify_headers(
                    keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value, legacy_schema=True
                )
                shown["verified"] = True
                if not verified.schema_signed:  # written before v2 signatures: the schema header is unsigned
                    shown["schema_signed"] = False
            except SignatureError as exc:
                shown["verified"] = False
                shown["verify_error"] = exc.reason
                failures += 1
        if topic == settings.topic_ingest:
            shown["value_bytes"] = len(message.value or b"")  # inputs carry PHI: never printed
            shown["signed"] = any(name == HEADER_HMAC for name, _ in message.headers)
        else:
            shown["key"] = (message.key or b"").decode("utf-8", "replace") or None
            shown["value"] = decode_output(registry, message)
        print(json.dumps(shown, ensure_ascii=False, default=str))
    verdict = f", {failures} failed verification" if keyring else ""
    print(f"{len(messages[: args.limit])} messages from {topic}{verdict}", file=sys.stderr)
    return 1 if failures else 0
