"""One batch of input messages in, one output or one dead letter per message out, plus audit events.

This is the whole pipeline minus Kafka: the faust agent hands it the raw bytes, headers and
coordinates of each message and sends what comes back. Keeping it pure makes every guarantee
(verify before decode, nothing lost, nothing leaked, deterministic outputs) testable without a
broker, and lets the benchmarks time it apart from the transport.

Order per message: HMAC verification (nothing is read before it passes) -> size check -> decode and
schema check -> structured-field protection -> free-text detection (batched across messages) ->
transformation -> encode, size and sign. Any :class:`RejectedMessage` or :class:`SignatureError` on
the way turns the message into a dead letter whose original bytes are sealed with the dead-letter key.

One message never takes its neighbours or the worker down: any other exception while handling one
message dead-letters that message only (``processing-error``, with the stage and the exception class,
never its text, which could quote a value); a detector that fails on a batch is asked again message
by message, so only the message it cannot handle is dead-lettered. Every output is sized, key, value
and every header included, against the smallest limit a producer or broker puts on it before it is
returned; a dead letter that would not fit falls back to one that names the input's coordinates only.

A message that fails verification gets a message id derived from its coordinates: the id it claims
is not trusted (it could name another message), and is kept in its dead letter only as
``claimed_message_id``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline.core.audit import processed_event, rejected_event, sensitive_event, utc_now_iso
from pipeline.core.budget import check_text_budget, detect_within
from pipeline.core.codecs import decode, encode_avro
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import (
    HEADER_HMAC,
    HEADER_MESSAGE_ID,
    HEADER_SCHEMA,
    MessageIdError,
    SignatureError,
    sign,
    verify_headers,
)
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.detection.base import Detector
from pipeline.core.detection.ensemble import Ensemble
from pipeline.core.errors import (
    EmptyMessage,
    OutputRejected,
    OutputTooLarge,
    OversizedMessage,
    ProcessingFailed,
    RejectedMessage,
)
from pipeline.core.formats.base import ProtectedDocument, format_of
from pipeline.core.formats.registry import FormatProcessors
from pipeline.core.formats.values import ValueProtector
from pipeline.core.known_values import KnownValueFinder
from pipeline.core.phi_types import PhiType
from pipeline.core.policy.model import Policy
from pipeline.core.roles import Outcome, OutputRole
from pipeline.core.schemas import SchemaEntry, SchemaRegistry
from pipeline.core.sensitive import (
    NOTHING_FOUND,
    NoteClassifier,
    SensitiveAction,
    SensitiveCategory,
    SensitiveDecision,
    SensitivePolicy,
    decide,
)
from pipeline.core.spans import Span
from pipeline.core.structured import ProtectedRecord, Transformation, protect_record, year_spans
from pipeline.core.transform import DEFAULT_TEXT_POLICY, Action, TransformContext, transform_text

log = logging.getLogger(__name__)
T = TypeVar("T")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
DEADLETTER_SCHEMA = "dead_letter"
AUDIT_SCHEMA = "audit_event"
#: Header names a dead letter lists (safe ones only); a message with thousands of headers must not
#: make its dead letter large.
MAX_LISTED_HEADER_NAMES = 32
_MAX_DETAIL_CHARS = 1_000
#: Bytes a record costs beyond its key, value and headers in a Kafka record batch, rounded up (batch
#: header 61, record overhead at most 21, and up to 10 bytes of varints per header).
RECORD_OVERHEAD_BYTES = 128
HEADER_OVERHEAD_BYTES = 10


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
    """A message to send; ``role`` is mapped to a topic by the stream layer (``Settings.topic_for``)."""

    role: OutputRole
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def size(self) -> int:
        """An upper bound on what this message costs against a producer's or a broker's size limit:
        key, value, every header name and value, and the record's framing."""
        return output_size(self.key, self.value, self.headers)


@dataclass
class ProcessResult:
    """The fate of one input: exactly one record or dead letter, and its audit event."""

    message_id: str
    outcome: Outcome
    stage: str
    reason: str | None
    outputs: list[OutboundMessage]
    partition: int
    entities: Counter[tuple[str, str]] = field(default_factory=Counter)  # (phi type, detector) -> count
    hmac_failed: bool = False
    #: The audit event, chained and appended to ``outputs`` once the whole batch is done, in input
    #: order, so each chain's events reach the topic in the order they were chained.
    audit_event: dict[str, Any] | None = field(default=None, repr=False)
    #: The input this is the fate of (the stream layer needs its coordinates if a send fails).
    inbound: InboundMessage | None = field(default=None, repr=False)
    #: (category, action) of each sensitive category found (for ``phi_sensitive_records_total``).
    sensitive: tuple[tuple[str, str], ...] = ()
    #: The policy's decision, an audit event of its own, chained just before ``audit_event``.
    decision_event: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class _Progress:
    """How far one message got: the stage an unexpected exception is reported in, and its verified id."""

    stage: str = "verify"
    message_id: str | None = None


@dataclass
class _Work:
    """A message between stages."""

    message: InboundMessage
    message_id: str
    entry: SchemaEntry | None  # None for a clinical format (HL7 v2, FHIR): ``protected`` is its document
    protected: ProtectedRecord | ProtectedDocument
    subject: str

    @property
    def texts(self) -> list[str]:
        return [slot.text for slot in self.protected.texts]


class RecordProcessor:
    """Turns input batches into outputs. One instance per worker; audit chains are per partition."""

    def __init__(
        self,
        *,
        registry: SchemaRegistry,
        keyring: Keyring,
        detector: Detector,
        worker_id: str,
        max_message_bytes: int,
        default_schema: str,
        text_policy: Mapping[PhiType, Action] = DEFAULT_TEXT_POLICY,
        detector_name: str = "ensemble",
        max_output_bytes: int | None = None,
        policy: Policy | None = None,
        classifier: NoteClassifier | None = None,
        sensitive_policy: SensitivePolicy | None = None,
        max_text_chars: int | None = None,
        detect_budget_seconds: float | None = None,
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        #: Bounded work per message (pipeline.core.budget): text past ``max_text_chars`` and detection
        #: past ``detect_budget_seconds`` are dead letters, never a blocked partition.
        self.max_text_chars = max_text_chars
        self.detect_budget_seconds = detect_budget_seconds
        self.detector = detector
        self.worker_id = worker_id
        self.max_message_bytes = max_message_bytes
        #: Outputs may grow (tokens are longer than the values they replace) up to twice the input limit;
        #: the stream layer lowers this to the smallest of its producer's and the brokers' limits.
        self.max_output_bytes = max_output_bytes or output_limit(max_message_bytes)
        self.default_schema = default_schema
        self.text_policy = dict(text_policy)
        #: HL7 v2 and FHIR processors under the policy (the shipped Safe Harbor one when none is given);
        #: a policy given here also sets the free-text actions.
        self.formats = FormatProcessors(policy)
        self.policy = self.formats.policy
        if policy is not None:
            self.text_policy = dict(policy.text)
        self.detector_name = detector_name
        self.tokenizer = Tokenizer(keyring)
        self.encryptor = Encryptor(keyring)
        self.run_id = uuid.uuid4().hex[:12]
        self._chains: dict[int, AuditChain] = {}
        self._deadletter_schema = registry.get(DEADLETTER_SCHEMA)
        self._audit_schema = registry.get(AUDIT_SCHEMA)
        self.batch_seconds: Counter[str] = Counter()  # the last batch, for the stage-latency metric
        self.ensemble = Ensemble()
        #: The sensitive-category classifier (None: notes are not classified) and the policy for what it finds.
        self.classifier = classifier
        self.sensitive_policy = sensitive_policy or SensitivePolicy()

    # -- public -------------------------------------------------------------------------------------

    def process_batch(self, messages: Sequence[InboundMessage]) -> list[ProcessResult]:
        """One result per message, in input order; never raises for a message (it becomes a dead letter)."""
        self.batch_seconds = Counter()
        results: list[ProcessResult | None] = [None] * len(messages)
        pending: list[tuple[int, _Work]] = []
        for index, message in enumerate(messages):
            progress = _Progress()
            try:
                work = self._prepare(message, progress)
                check_text_budget(work.texts, self.max_text_chars)
                pending.append((index, work))
            except Exception as exc:  # one message's failure, of any kind, is that message's dead letter
                results[index] = self._reject(message, exc, progress)
        self._detect_and_finish(pending, results)
        done: list[ProcessResult] = []
        for message, result in zip(messages, results, strict=True):
            if result is None:  # unreachable by construction; fail closed rather than lose the message
                result = self._reject(message, ProcessingFailed("emit", "message had no result"), _Progress("emit"))
            result.inbound = message
            if result.decision_event is not None:
                result.outputs.append(self.audit_message(result.decision_event, result.partition))
                result.decision_event = None
            if result.audit_event is not None:
                result.outputs.append(self.audit_message(result.audit_event, result.partition))
                result.audit_event = None
            done.append(result)
        return done

    def send_failed(self, result: ProcessResult, error: BaseException) -> ProcessResult:
        """The broker refused one of this message's outputs (too large or invalid for its topic): a
        dead letter naming the input's coordinates only, with its audit event, in its place."""
        message = result.inbound
        if message is None:
            raise ValueError("send_failed needs a result from process_batch (it carries its input)")
        detail = f"the {result.outcome} output was refused when sent ({type(error).__name__})"
        verified_id = None if result.stage == "verify" else result.message_id  # verify failures have derived ids
        letter = self._dead_letter(message, OutputRejected.reason, "send", detail, verified_id, keep_original=False)
        if letter.audit_event is not None:
            letter.outputs.append(self.audit_message(letter.audit_event, letter.partition))
            letter.audit_event = None
        letter.inbound = message
        return letter

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

    def _prepare(self, message: InboundMessage, progress: _Progress) -> _Work:
        started = time.perf_counter()
        value = message.value
        progress.stage = "verify"
        verified = verify_headers(self.keyring, KeyPurpose.INGEST_HMAC, message.headers, message.key, value)
        if not _SAFE_ID.match(verified.message_id):
            raise MessageIdError("phi-message-id must be 1-128 letters, digits or ._:@/-")
        progress.message_id = verified.message_id
        progress.stage = "ingest"
        if value is None or len(value) == 0:
            raise EmptyMessage("ingest", "message value is empty")
        if len(value) > self.max_message_bytes:
            raise OversizedMessage("ingest", f"value is {len(value)} bytes; the limit is {self.max_message_bytes}")
        self._timed("verify", started)
        started = time.perf_counter()
        progress.stage = "decode"
        clinical = format_of(verified.schema)
        if clinical is not None:  # HL7 v2 or FHIR, named by the signed phi-schema header
            protector = ValueProtector(
                verified.message_id,
                self.tokenizer.tokenize,
                self.encryptor.encrypt,
                self.keyring.current(KeyPurpose.PSEUDONYM).material,
                self.policy.shift_days,
            )
            document = self.formats.protect(clinical, value, protector)
            self._timed("protect", started)
            return _Work(message, verified.message_id, None, document, document.subject)
        entry, record = decode(self.registry, verified.schema, value, self.default_schema)
        self._timed("decode", started)
        started = time.perf_counter()
        progress.stage = "protect"
        protected = protect_record(entry, record, verified.message_id, self.tokenizer.tokenize, self.encryptor.encrypt)
        subject = str(record.get(entry.subject_field) or "") if entry.subject_field else ""
        self._timed("protect", started)
        return _Work(message, verified.message_id, entry, protected, subject)

    def _detect_and_finish(self, pending: list[tuple[int, _Work]], results: list[ProcessResult | None]) -> None:
        started = time.perf_counter()
        spans = self._batched("detect", self._detect_texts, pending, results)
        self._timed("detect", started)
        scores: dict[int, list[dict[SensitiveCategory, float]]] = {}
        if self.classifier is not None:  # the same batch, the original text, before anything is transformed
            started = time.perf_counter()
            scores = self._batched("classify", self._classify_texts, pending, results)
            self._timed("classify", started)
        for index, work in pending:
            if results[index] is not None:  # the detector or the classifier could not handle this message alone
                continue
            progress = _Progress("transform", work.message_id)
            try:
                decision = self._decide(scores.get(index))
                results[index] = self._finish(work, spans[index], progress, decision)
            except Exception as exc:  # this message only
                results[index] = self._reject(work.message, exc, progress)

    def _batched(
        self,
        stage: str,
        run: Callable[[list[str]], list[T]],
        pending: list[tuple[int, _Work]],
        results: list[ProcessResult | None],
    ) -> dict[int, list[T]]:
        """``run``'s answer per text per message: one call for the batch; if it fails, one call per
        message, so a message the model cannot handle is dead-lettered alone (messages already
        dead-lettered by an earlier stage are left out)."""
        live = [(index, work) for index, work in pending if results[index] is None]
        texts = [text for _, work in live for text in work.texts]
        if not texts:
            return {index: [] for index, _ in live}
        try:
            found = run(texts)
        except Exception as exc:
            log.warning(
                "%s failed on a batch of %d texts (%s); retrying message by message",
                stage,
                len(texts),
                type(exc).__name__,
            )
        else:
            answers: dict[int, list[T]] = {}
            position = 0
            for index, work in live:
                answers[index] = found[position : position + len(work.texts)]
                position += len(work.texts)
            return answers
        answers = {}
        for index, work in live:
            try:
                answers[index] = run(work.texts) if work.texts else []
            except Exception as exc:
                results[index] = self._reject(work.message, exc, _Progress(stage, work.message_id))
        return answers

    def _detect_texts(self, texts: list[str]) -> list[list[Span]]:
        found = detect_within(self.detector, texts, self.detect_budget_seconds)
        if len(found) != len(texts):
            raise ProcessingFailed("detect", f"the detector returned {len(found)} results for {len(texts)} texts")
        return found

    def _classify_texts(self, texts: list[str]) -> list[dict[SensitiveCategory, float]]:
        assert self.classifier is not None
        found = list(self.classifier.classify_batch(texts))
        if len(found) != len(texts):
            raise ProcessingFailed("classify", f"the classifier returned {len(found)} results for {len(texts)} texts")
        return found

    def _decide(self, scores: list[dict[SensitiveCategory, float]] | None) -> SensitiveDecision:
        if self.classifier is None or not scores:
            return NOTHING_FOUND
        return decide(scores, self.classifier.thresholds, self.sensitive_policy)

    def _finish(
        self,
        work: _Work,
        detected_per_text: list[list[Span]],
        progress: _Progress,
        decision: SensitiveDecision = NOTHING_FOUND,
    ) -> ProcessResult:
        started = time.perf_counter()
        withhold = decision.action is SensitiveAction.WITHHOLD_TEXT
        entities: Counter[tuple[str, str]] = Counter()
        protected = work.protected
        transformations = list(protected.transformations)
        context = TransformContext(
            patient_key=work.subject,
            secret=self.keyring.current(KeyPurpose.PSEUDONYM).material,
            tokenize=self.tokenizer.tokenize,
        )
        finder = KnownValueFinder(protected.known) if protected.texts else None
        for slot, detected in zip(protected.texts, detected_per_text, strict=True):
            if withhold:  # the policy withholds this record's free text: none of it leaves
                slot.replace(None)
                transformations.append(Transformation(slot.path, "FREE_TEXT", "withhold", None, None, "sensitive"))
                continue
            text = slot.text
            known = finder.find(text) if finder is not None else []
            spans = self.ensemble.merge([*detected, *known], text)
            if protected.aged_90_plus:  # Safe Harbor: no year survives in the notes of a patient aged 90+
                spans = [*spans, *year_spans(text)]
            result = transform_text(text, spans, self.text_policy, context)
            slot.place(result, spans)
            for span in spans:
                entities[(span.type.value, span.detector)] += 1
            transformations.extend(
                Transformation(slot.path, str(s.type), str(s.action), s.start, s.end, self.detector_name)
                for s in result.spans
            )
        progress.stage = "emit"
        key = self._protect_key(work.message.key)
        role = OutputRole.RESTRICTED if decision.action is SensitiveAction.RESTRICT else OutputRole.REDACTED
        if isinstance(protected, ProtectedDocument):  # the same format out, re-parsed or validated
            source_schema = protected.schema
            outbound = self._signed(role, key, protected.render(), work.message_id, protected.schema)
        else:
            assert work.entry is not None
            source_schema = work.entry.ref
            output_entry = self.registry.output_for(work.entry)
            record = dict(protected.record)
            record.update(
                message_id=work.message_id,
                source_schema=work.entry.ref,
                phi_transformations=[t.as_record() for t in transformations],
                sensitive_categories=[found.as_record() for found in decision.found],
            )
            value = encode_avro(output_entry, record)
            outbound = self._signed(role, key, value, work.message_id, output_entry.ref)
        if outbound.size > self.max_output_bytes:
            raise OutputTooLarge(
                "emit", f"de-identified record is {outbound.size} bytes with its headers; limit {self.max_output_bytes}"
            )
        self._timed("transform", started)
        entity_counts = Counter(t.phi_type for t in transformations)
        action_counts = Counter(t.action for t in transformations)
        event = processed_event(
            actor=self.worker_id,
            message_id=work.message_id,
            schema=source_schema,
            source=work.message.source,
            entity_counts=entity_counts,
            action_counts=action_counts,
            details=protected.coverage.as_details(),
        )
        decision_event = None
        if decision.found:
            decision_event = sensitive_event(
                actor=self.worker_id,
                message_id=work.message_id,
                schema=source_schema,
                source=work.message.source,
                action=decision.action.value,
                categories={f.category.value: f.score for f in decision.found},
                actions={f.category.value: f.action.value for f in decision.found},
                classifier=self.classifier.name if self.classifier is not None else "none",
            )
        return ProcessResult(
            work.message_id,
            Outcome.OK,
            "emit",
            None,
            [outbound],
            work.message.partition,
            entities,
            audit_event=event,
            sensitive=tuple((f.category.value, f.action.value) for f in decision.found),
            decision_event=decision_event,
        )

    # -- dead letters -------------------------------------------------------------------------------

    def _reject(self, message: InboundMessage, exc: BaseException, progress: _Progress) -> ProcessResult:
        """The dead letter for one message's failure; never raises."""
        if isinstance(exc, RejectedMessage):
            reason, stage, detail = exc.reason, exc.stage, exc.detail
        elif isinstance(exc, SignatureError):
            reason, stage, detail = exc.reason, "verify", str(exc)
        else:  # unexpected: the class and the stage only; an exception's text may quote a value
            reason, stage = ProcessingFailed.reason, progress.stage
            detail = f"unexpected {type(exc).__name__} in stage {stage}"
            log.warning(
                "%s: unexpected %s in stage %s; the message is dead-lettered (processing-error), its batch goes on",
                message.source,
                type(exc).__name__,
                stage,
            )
        return self._dead_letter(message, reason, stage, detail, progress.message_id)

    def _dead_letter(
        self,
        message: InboundMessage,
        reason: str,
        stage: str,
        detail: str,
        verified_id: str | None,
        keep_original: bool = True,
    ) -> ProcessResult:
        """A dead letter that fits: the original sealed inside when it fits, else its coordinates only."""
        message_id = verified_id or derived_message_id(message)
        detail = detail[:_MAX_DETAIL_CHARS]
        original = _original_size(message)
        keep = keep_original and original <= self.max_message_bytes
        try:
            outbound = self._letter(message, message_id, reason, stage, detail, verified_id, keep, original)
            if keep and outbound.size > self.max_output_bytes:
                keep = False
                outbound = self._letter(message, message_id, reason, stage, detail, verified_id, keep, original)
        except Exception as exc:  # never lose the message: the plainest letter there is
            log.warning("%s: its dead letter failed (%s); coordinates only", message.source, type(exc).__name__)
            keep = False
            outbound = self._letter(
                message, message_id, reason, stage, f"{reason} in stage {stage}", verified_id, keep, original, bare=True
            )
        if outbound.size > self.max_output_bytes:
            log.error(
                "%s: even a coordinates-only dead letter (%d bytes) exceeds the output limit (%d bytes); "
                "raise the producer's and brokers' message size limits",
                message.source,
                outbound.size,
                self.max_output_bytes,
            )
        schema = _safe_header(message.headers, HEADER_SCHEMA)
        event = rejected_event(
            actor=self.worker_id,
            message_id=message_id,
            stage=stage,
            reason=reason,
            source=message.source,
            schema=schema,
        )
        return ProcessResult(
            message_id,
            Outcome.DEADLETTER,
            stage,
            reason,
            [outbound],
            message.partition,
            hmac_failed=stage == "verify",
            audit_event=event,
        )

    def _letter(
        self,
        message: InboundMessage,
        message_id: str,
        reason: str,
        stage: str,
        detail: str,
        verified_id: str | None,
        keep: bool,
        original: int,
        bare: bool = False,
    ) -> OutboundMessage:
        if not keep:
            detail = (
                f"{detail}; the original ({original} bytes with key and headers) is not copied here: "
                f"it stays at {message.source} until the input topic's retention"
            )
        claimed = None if verified_id or bare else _safe_header(message.headers, HEADER_MESSAGE_ID)
        letter = {
            "message_id": message_id,
            "reason": reason,
            "stage": stage,
            "detail": detail,
            "source_topic": message.topic,
            "source_partition": message.partition,
            "source_offset": message.offset,
            "source_timestamp_ms": message.timestamp_ms,
            "schema": None if bare else _safe_header(message.headers, HEADER_SCHEMA),
            "header_names": [] if bare else _listed_header_names(message.headers),
            "value_size": len(message.value or b""),
            "sealed_key": self._seal(message.key, message_id, "key") if keep else None,
            "sealed_value": self._seal(message.value, message_id, "value") if keep else None,
            "sealed_headers": self._seal(_headers_bytes(message.headers), message_id, "headers") if keep else None,
            "claimed_message_id": claimed,
            "time": utc_now_iso(),
        }
        value = encode_avro(self._deadletter_schema, letter)
        return self._signed(OutputRole.DEADLETTER, None, value, message_id, self._deadletter_schema.ref)

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

    def _signed(
        self, role: OutputRole, key: bytes | None, value: bytes, message_id: str, schema: str
    ) -> OutboundMessage:
        return signed_output(self.keyring, role, key, value, message_id, schema)

    def _seal(self, data: bytes | None, message_id: str, part: str) -> str | None:
        """Original bytes under the dead-letter key, bound to the message id and to which part they are."""
        if data is None:
            return None
        return self.encryptor.seal_bytes(data, message_id, context=f"deadletter/{part}")


def output_limit(max_message_bytes: int) -> int:
    """The largest output the pipeline sends for inputs up to ``max_message_bytes``."""
    return 2 * max_message_bytes + 65_536


def output_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> int:
    """An upper bound on a record's size as producers and brokers count it: key, value, each header's
    name and value, and framing."""
    size = RECORD_OVERHEAD_BYTES + len(key or b"") + len(value or b"")
    for name, header_value in headers:
        size += HEADER_OVERHEAD_BYTES + len(name.encode("utf-8", "surrogatepass")) + len(header_value or b"")
    return size


def _original_size(message: InboundMessage) -> int:
    """What copying the input into a dead letter costs: key, value, and every header name and value."""
    return output_size(message.key, message.value, message.headers) - RECORD_OVERHEAD_BYTES


def _headers_bytes(headers: Sequence[tuple[str, bytes]]) -> bytes:
    return json.dumps(
        [[name, base64.b64encode(value or b"").decode("ascii")] for name, value in headers],
        ensure_ascii=True,
    ).encode("ascii")


def _listed_header_names(headers: Sequence[tuple[str, bytes]]) -> list[str]:
    names = sorted({name for name, _ in headers if _SAFE_ID.match(name)})
    return names[:MAX_LISTED_HEADER_NAMES]


def signed_output(
    keyring: Keyring, role: OutputRole, key: bytes | None, value: bytes, message_id: str, schema: str
) -> OutboundMessage:
    """Every output carries the message id, the schema and an HMAC over both, the key and the value,
    under the egress key."""
    signature = sign(keyring, KeyPurpose.EGRESS_HMAC, message_id, key, value, schema)
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
    return signed_output(keyring, OutputRole.AUDIT, key, encode_avro(schema, chained), chained["event_id"], schema.ref)


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name and value is not None:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def _safe_header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    value = _header(headers, name)
    return value if value is not None and _SAFE_ID.match(value) else None


def derived_message_id(message: InboundMessage) -> str:
    """The id of a message whose own id cannot be trusted (it failed verification, or has none):
    derived from its coordinates, so a replayed input gets the same one."""
    digest = hashlib.sha256(message.source.encode("utf-8")).hexdigest()[:32]
    return f"derived-{digest}"
