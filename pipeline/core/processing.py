"""One batch of input messages in, one output or one dead letter per message out, plus audit events.

This is the whole pipeline minus Kafka: the faust agent hands it the raw bytes, headers and
coordinates of each message and sends what comes back. Keeping it pure makes every guarantee
(verify before decode, nothing lost, nothing leaked, deterministic outputs) testable without a
broker, and lets the benchmarks time it apart from the transport.

Order per message: size check -> HMAC verification (nothing is decoded before it passes) -> decode
and schema check -> structured-field protection -> free-text detection (batched across messages)
-> transformation -> encode and sign. Any :class:`RejectedMessage` on the way turns the message into
a dead letter whose original bytes are sealed with the dead-letter key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.audit import processed_event, rejected_event, utc_now_iso
from pipeline.core.codecs import decode, encode_avro
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import (
    HEADER_HMAC,
    HEADER_MESSAGE_ID,
    HEADER_SCHEMA,
    SignatureError,
    sign,
    verify_headers,
)
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.detection.base import TextDetector
from pipeline.core.detection.ensemble import Ensemble
from pipeline.core.errors import PipelineError, RejectedMessage
from pipeline.core.known_values import KnownValueFinder
from pipeline.core.phi_types import PhiType
from pipeline.core.schemas import SchemaEntry, SchemaRegistry
from pipeline.core.spans import Span
from pipeline.core.structured import Transformation, protect_fields
from pipeline.core.transform import DEFAULT_TEXT_POLICY, Action, TransformContext, transform_text

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
DEADLETTER_SCHEMA = "dead_letter"
AUDIT_SCHEMA = "audit_event"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A consumed message as the broker gave it."""

    value: bytes | None
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to send; ``role`` (redacted, deadletter, audit) is mapped to a topic by the stream layer."""

    role: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class ProcessResult:
    """The fate of one input: exactly one record or dead letter, and its audit event."""

    message_id: str
    outcome: str  # "ok" or "deadletter"
    stage: str
    reason: str | None
    outputs: list[OutboundMessage]
    partition: int
    entities: Counter[tuple[str, str]] = field(default_factory=Counter)  # (phi type, detector) -> count
    hmac_failed: bool = False
    #: The audit event, chained and appended to ``outputs`` once the whole batch is done, in input
    #: order, so each chain's events reach the topic in the order they were chained.
    audit_event: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class _Work:
    """A message between stages."""

    message: InboundMessage
    message_id: str
    entry: SchemaEntry
    record: dict[str, Any]
    protected: dict[str, Any]
    transformations: list[Transformation]
    subject: str
    texts: dict[str, str] = field(default_factory=dict)
    known: list[tuple[PhiType, str]] = field(default_factory=list)


class RecordProcessor:
    """Turns input batches into outputs. One instance per worker; audit chains are per partition."""

    def __init__(
        self,
        *,
        registry: SchemaRegistry,
        keyring: Keyring,
        detector: TextDetector,
        worker_id: str,
        max_message_bytes: int,
        default_schema: str,
        text_policy: Mapping[PhiType, Action] = DEFAULT_TEXT_POLICY,
        detector_name: str = "ensemble",
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self.detector = detector
        self.worker_id = worker_id
        self.max_message_bytes = max_message_bytes
        #: Outputs may grow (tokens are longer than the values they replace) up to twice the input limit;
        #: the stream layer's producer is configured to accept this size.
        self.max_output_bytes = output_limit(max_message_bytes)
        self.default_schema = default_schema
        self.text_policy = dict(text_policy)
        self.detector_name = detector_name
        self.tokenizer = Tokenizer(keyring)
        self.encryptor = Encryptor(keyring)
        self.run_id = uuid.uuid4().hex[:12]
        self._chains: dict[int, AuditChain] = {}
        self._deadletter_schema = registry.get(DEADLETTER_SCHEMA)
        self._audit_schema = registry.get(AUDIT_SCHEMA)
        self.batch_seconds: Counter[str] = Counter()  # the last batch, for the stage-latency metric
        self.ensemble = Ensemble()

    # -- public -------------------------------------------------------------------------------------

    def process_batch(self, messages: Sequence[InboundMessage]) -> list[ProcessResult]:
        """Results in input order; never raises for a bad message (it becomes a dead letter)."""
        self.batch_seconds = Counter()
        results: list[ProcessResult | None] = [None] * len(messages)
        pending: list[tuple[int, _Work]] = []
        for index, message in enumerate(messages):
            try:
                pending.append((index, self._prepare(message)))
            except RejectedMessage as rejected:
                results[index] = self._dead_letter(message, rejected)
        self._detect_and_finish(pending, results)
        done = [r for r in results if r is not None]
        for result in done:
            if result.audit_event is not None:
                result.outputs.append(self.audit_message(result.audit_event, result.partition))
                result.audit_event = None
        return done

    def chain(self, partition: int) -> AuditChain:
        chain = self._chains.get(partition)
        if chain is None:
            chain = AuditChain(self.keyring, f"{self.worker_id}/{self.run_id}/p{partition}")
            self._chains[partition] = chain
        return chain

    def audit_message(self, event: dict[str, Any], partition: int) -> OutboundMessage:
        """Chain, sign and encode an audit event (also used by the summary path)."""
        return audit_output(self.keyring, self._audit_schema, self.chain(partition), event)

    # -- stages -------------------------------------------------------------------------------------

    def _timed(self, stage: str, started: float) -> None:
        self.batch_seconds[stage] += time.perf_counter() - started

    def _prepare(self, message: InboundMessage) -> _Work:
        started = time.perf_counter()
        value = message.value
        if value is None or len(value) == 0:
            raise RejectedMessage("empty", "ingest", "message value is empty")
        if len(value) > self.max_message_bytes:
            raise RejectedMessage(
                "oversized", "ingest", f"value is {len(value)} bytes; the limit is {self.max_message_bytes}"
            )
        try:
            verified = verify_headers(self.keyring, KeyPurpose.INGEST_HMAC, message.headers, message.key, value)
        except SignatureError as exc:
            raise RejectedMessage(exc.reason, "verify", str(exc)) from None
        if not _SAFE_ID.match(verified.message_id):
            raise RejectedMessage(
                "message-id-invalid", "verify", "phi-message-id must be 1-128 letters, digits or ._:@/-"
            )
        self._timed("verify", started)
        started = time.perf_counter()
        entry, record = decode(self.registry, verified.schema, value, self.default_schema)
        self._timed("decode", started)
        started = time.perf_counter()
        protected, transformations = protect_fields(
            entry, record, verified.message_id, self.tokenizer.tokenize, self.encryptor.encrypt
        )
        subject = str(record.get(entry.subject_field) or "") if entry.subject_field else ""
        work = _Work(message, verified.message_id, entry, record, protected, transformations, subject)
        for policy in entry.free_text_fields:
            text = record.get(policy.name)
            if text:
                work.texts[policy.name] = text
        if work.texts:
            work.known = known_values(entry, record)
        self._timed("protect", started)
        return work

    def _detect_and_finish(self, pending: list[tuple[int, _Work]], results: list[ProcessResult | None]) -> None:
        jobs = [(index, work, name, text) for index, work in pending for name, text in work.texts.items()]
        started = time.perf_counter()
        try:
            found = self.detector.detect_batch([text for _, _, _, text in jobs]) if jobs else []
        except Exception as exc:  # a detector fault must not lose the batch: each message is dead-lettered
            detail = f"detector failed on the batch ({type(exc).__name__})"
            for index, work in pending:
                results[index] = self._dead_letter(work.message, RejectedMessage("processing-error", "detect", detail))
            return
        self._timed("detect", started)
        spans_by_job = {(index, name): spans for (index, _, name, _), spans in zip(jobs, found, strict=True)}
        for index, work in pending:
            try:
                results[index] = self._finish(work, {n: spans_by_job[(index, n)] for n in work.texts})
            except RejectedMessage as rejected:
                results[index] = self._dead_letter(work.message, rejected)
            except PipelineError as exc:
                results[index] = self._dead_letter(
                    work.message, RejectedMessage("processing-error", "transform", type(exc).__name__)
                )

    def _finish(self, work: _Work, spans_by_field: dict[str, list[Span]]) -> ProcessResult:
        started = time.perf_counter()
        entities: Counter[tuple[str, str]] = Counter()
        transformations = list(work.transformations)
        context = TransformContext(
            patient_key=work.subject,
            secret=self.keyring.current(KeyPurpose.PSEUDONYM).material,
            tokenize=self.tokenizer.tokenize,
        )
        finder = KnownValueFinder(work.known)
        for name, detected in spans_by_field.items():
            spans = self.ensemble.merge([*detected, *finder.find(work.texts[name])], work.texts[name])
            result = transform_text(work.texts[name], spans, self.text_policy, context)
            work.protected[name] = result.text
            for span in spans:
                entities[(span.type.value, span.detector)] += 1
            transformations.extend(
                Transformation(name, str(s.type), str(s.action), s.start, s.end, self.detector_name)
                for s in result.spans
            )
        output_entry = self.registry.output_for(work.entry)
        record = dict(work.protected)
        record.update(
            message_id=work.message_id,
            source_schema=work.entry.ref,
            phi_transformations=[t.as_record() for t in transformations],
        )
        key = self._protect_key(work.message.key)
        value = encode_avro(output_entry, record)
        if len(value) > self.max_output_bytes:
            raise RejectedMessage(
                "output-too-large", "emit", f"de-identified record is {len(value)} bytes; limit {self.max_output_bytes}"
            )
        outbound = self._signed("redacted", key, value, work.message_id, output_entry.ref)
        self._timed("transform", started)
        entity_counts = Counter(t.phi_type for t in transformations)
        action_counts = Counter(t.action for t in transformations)
        event = processed_event(
            actor=self.worker_id,
            message_id=work.message_id,
            schema=work.entry.ref,
            source=work.message.source,
            entity_counts=entity_counts,
            action_counts=action_counts,
        )
        return ProcessResult(
            work.message_id, "ok", "emit", None, [outbound], work.message.partition, entities, audit_event=event
        )

    # -- helpers ------------------------------------------------------------------------------------

    def _protect_key(self, key: bytes | None) -> bytes | None:
        """Record keys are patient or encounter ids: tokenized, so partitioning and joins still work."""
        if key is None:
            return None
        try:
            text = key.decode("utf-8")
        except UnicodeDecodeError:
            text = "b64:" + base64.b64encode(key).decode("ascii")
        return self.tokenizer.tokenize(text, PhiType.ID).encode("ascii")

    def _signed(self, role: str, key: bytes | None, value: bytes, message_id: str, schema: str) -> OutboundMessage:
        return signed_output(self.keyring, role, key, value, message_id, schema)

    def _dead_letter(self, message: InboundMessage, rejected: RejectedMessage) -> ProcessResult:
        message_id = dead_letter_message_id(message)
        schema = _header(message.headers, HEADER_SCHEMA)
        schema = schema if schema is not None and _SAFE_ID.match(schema) else None
        sealed_headers = json.dumps(
            [[name, base64.b64encode(value or b"").decode("ascii")] for name, value in message.headers]
        ).encode("utf-8")
        original = len(message.value or b"") + len(message.key or b"") + len(sealed_headers)
        # An input over the size limit is not copied into its dead letter (which would then be too large
        # to send); it stays in the input topic at the offset the dead letter names.
        keep = original <= self.max_message_bytes
        detail = (
            rejected.detail
            if keep
            else (
                f"{rejected.detail}; the original ({original} bytes) is not copied here: it stays at "
                f"{message.source} until the input topic's retention"
            )
        )
        letter = {
            "message_id": message_id,
            "reason": rejected.reason,
            "stage": rejected.stage,
            "detail": detail,
            "source_topic": message.topic,
            "source_partition": message.partition,
            "source_offset": message.offset,
            "source_timestamp_ms": message.timestamp_ms,
            "schema": schema,
            "header_names": sorted({name for name, _ in message.headers if _SAFE_ID.match(name)}),
            "value_size": len(message.value or b""),
            "sealed_key": self._seal(message.key, message_id, "key") if keep else None,
            "sealed_value": self._seal(message.value, message_id, "value") if keep else None,
            "sealed_headers": self._seal(sealed_headers, message_id, "headers") if keep else None,
            "time": utc_now_iso(),
        }
        outbound = self._signed(
            "deadletter", None, encode_avro(self._deadletter_schema, letter), message_id, self._deadletter_schema.ref
        )
        event = rejected_event(
            actor=self.worker_id,
            message_id=message_id,
            stage=rejected.stage,
            reason=rejected.reason,
            source=message.source,
            schema=schema,
        )
        return ProcessResult(
            message_id,
            "deadletter",
            rejected.stage,
            rejected.reason,
            [outbound],
            message.partition,
            hmac_failed=rejected.stage == "verify",
            audit_event=event,
        )

    def _seal(self, data: bytes | None, message_id: str, part: str) -> str | None:
        """Original bytes under the dead-letter key, bound to the message id and to which part they are."""
        if data is None:
            return None
        return self.encryptor.seal_bytes(data, message_id, context=f"deadletter/{part}")


def output_limit(max_message_bytes: int) -> int:
    """The largest output the pipeline sends for inputs up to ``max_message_bytes``."""
    return 2 * max_message_bytes + 65_536


def known_values(entry: SchemaEntry, record: Mapping[str, Any]) -> list[tuple[PhiType, str]]:
    """The record's structured PHI values, to be found again in its free text (ages only from 90 up)."""
    known: list[tuple[PhiType, str]] = []
    for policy in entry.policies:
        value = record.get(policy.name)
        if policy.phi_type is None or policy.action == "keep" or value is None:
            continue
        if policy.phi_type is PhiType.AGE and (not str(value).isdigit() or int(value) < 90):
            continue
        known.append((policy.phi_type, str(value)))
    return known


def signed_output(
    keyring: Keyring, role: str, key: bytes | None, value: bytes, message_id: str, schema: str
) -> OutboundMessage:
    """Every output carries the message id, the schema and an HMAC under the egress key."""
    signature = sign(keyring, KeyPurpose.EGRESS_HMAC, message_id, key, value)
    headers = (
        (HEADER_MESSAGE_ID, message_id.encode("utf-8")),
        (HEADER_HMAC, signature.encode("ascii")),
        (HEADER_SCHEMA, schema.encode("utf-8")),
    )
    return OutboundMessage(role, key, value, headers)


def audit_output(keyring: Keyring, schema: SchemaEntry, chain: AuditChain, event: dict[str, Any]) -> OutboundMessage:
    """Chain, encode and sign an audit event, keyed by its chain id so a chain stays in one partition
    and readers see its events in order."""
    chained = chain.append(event)
    key = chained["chain_id"].encode("utf-8")
    return signed_output(keyring, "audit", key, encode_avro(schema, chained), chained["event_id"], schema.ref)


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name and value is not None:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def dead_letter_message_id(message: InboundMessage) -> str:
    """The producer's message id when it is well-formed, else one derived from the message's coordinates."""
    given = _header(message.headers, HEADER_MESSAGE_ID)
    if given is not None and _SAFE_ID.match(given):
        return given
    digest = hashlib.sha256(message.source.encode("utf-8")).hexdigest()[:32]
    return f"derived-{digest}"
