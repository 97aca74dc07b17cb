"""The worker's envelope: one batch of input messages in, one output or one dead letter per message out,
plus audit events.

Around the :class:`~pipeline.core.deidentify.Deidentifier`, which does the content, this does only what
a message needs: verify its HMAC (nothing is read before it passes), check its size, hand it to the
de-identifier (detection and classification batched across messages), tokenize its key, sign the
output, size it, dead-letter what fails (:mod:`pipeline.core.dead_letters`) and audit every fate.
Keeping it pure makes every guarantee (verify before decode, nothing lost, nothing leaked,
deterministic outputs) testable without a broker, and lets the benchmarks time it apart from the transport.

One message never takes its neighbours or the worker down: any other exception while handling one
message dead-letters that message only (``processing-error``, with the stage and the exception class,
never its text, which could quote a value); a detector that fails on a batch is asked again message
by message, so only the message it cannot handle is dead-lettered. Every output is sized, key, value
and every header included, against the smallest limit a producer or broker puts on it before it is
returned. A message that fails verification gets a message id derived from its coordinates: the id it
claims is not trusted (it could name another message), and is kept in its dead letter only as
``claimed_message_id``.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline.core.audit import processed_event, sensitive_event
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.integrity import MessageIdError, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.dead_letters import DeadLetters, Letter
from pipeline.core.deidentify import Deidentified, Deidentifier, Opened, run_batched
from pipeline.core.detection.base import Detector
from pipeline.core.errors import (
    EmptyMessage,
    OutputRejected,
    OutputTooLarge,
    OversizedMessage,
    ProcessingFailed,
)
from pipeline.core.messages import (
    AUDIT_SCHEMA,
    SAFE_ID,
    InboundMessage,
    OutboundMessage,
    audit_output,
    output_limit,
    signed_output,
)
from pipeline.core.phi_types import PhiType
from pipeline.core.roles import Outcome, OutputRole
from pipeline.core.sensitive import NOTHING_FOUND, SensitiveCategory
from pipeline.core.stages import Stages

log = logging.getLogger(__name__)
T = TypeVar("T")


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
class _Work:
    """A verified message, opened by the de-identifier, waiting for its batch's detection."""

    message: InboundMessage
    opened: Opened


class RecordProcessor:
    """Turns input batches into outputs. One instance per worker; audit chains are per partition."""

    def __init__(
        self,
        *,
        deidentifier: Deidentifier,
        worker_id: str,
        max_message_bytes: int,
        max_output_bytes: int | None = None,
    ) -> None:
        if deidentifier.registry is None:
            raise ValueError("the worker's de-identifier needs the schema registry (dead letters, audit events)")
        self.deidentifier = deidentifier
        self.registry = deidentifier.registry
        self.keyring = deidentifier.keyring
        self.worker_id = worker_id
        self.max_message_bytes = max_message_bytes
        #: Outputs may grow (tokens are longer than the values they replace) up to twice the input limit;
        #: the stream layer lowers this to the smallest of its producer's and the brokers' limits.
        self.max_output_bytes = max_output_bytes or output_limit(max_message_bytes)
        self.run_id = uuid.uuid4().hex[:12]
        self.dead_letters = DeadLetters(self.keyring, self.registry, max_message_bytes, worker_id)
        self._chains: dict[int, AuditChain] = {}
        self._audit_schema = self.registry.get(AUDIT_SCHEMA)
        self.batch_seconds: Counter[str] = Counter()  # the last batch, for the stage-latency metric

    @property
    def detector(self) -> Detector:
        return self.deidentifier.detector

    # -- public -------------------------------------------------------------------------------------

    def process_batch(self, messages: Sequence[InboundMessage]) -> list[ProcessResult]:
        """One result per message, in input order; never raises for a message (it becomes a dead letter)."""
        self.batch_seconds = Counter()
        results: list[ProcessResult | None] = [None] * len(messages)
        pending: list[tuple[int, _Work]] = []
        for index, message in enumerate(messages):
            stages = Stages(seconds=self.batch_seconds)
            try:
                pending.append((index, self._open(message, stages)))
            except Exception as exc:  # one message's failure, of any kind, is that message's dead letter
                results[index] = self._reject(message, exc, stages)
            stages.enter("detect")
        self._detect_and_finish(pending, results)
        done: list[ProcessResult] = []
        for message, result in zip(messages, results, strict=True):
            if result is None:  # unreachable by construction; fail closed rather than lose the message
                result = self._reject(message, ProcessingFailed("emit", "message had no result"), Stages("emit"))
            result.inbound = message
            for event in (result.decision_event, result.audit_event):
                if event is not None:
                    result.outputs.append(self.audit_message(event, result.partition))
            result.decision_event = result.audit_event = None
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
        letter = self._letter_result(
            message,
            self.dead_letters.letter(
                message, OutputRejected.reason, "send", detail, verified_id, self.max_output_bytes, keep_original=False
            ),
        )
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

    def _open(self, message: InboundMessage, stages: Stages) -> _Work:
        value = message.value
        verified = verify_headers(self.keyring, KeyPurpose.INGEST_HMAC, message.headers, message.key, value)
        if not SAFE_ID.match(verified.message_id):
            raise MessageIdError("phi-message-id must be 1-128 letters, digits or ._:@/-")
        stages.message_id = verified.message_id
        stages.enter("ingest")
        if value is None or len(value) == 0:
            raise EmptyMessage("ingest", "message value is empty")
        if len(value) > self.max_message_bytes:
            raise OversizedMessage("ingest", f"value is {len(value)} bytes; the limit is {self.max_message_bytes}")
        return _Work(message, self.deidentifier.open(verified.schema, value, verified.message_id, stages))

    def _detect_and_finish(self, pending: list[tuple[int, _Work]], results: list[ProcessResult | None]) -> None:
        clock = Stages("detect", seconds=self.batch_seconds)
        spans = self._batched("detect", self.deidentifier.detect, pending, results)
        scores: dict[int, list[dict[SensitiveCategory, float]]] = {}
        if self.deidentifier.classifier is not None:  # the same batch, the original text, before any change
            clock.enter("classify")
            scores = self._batched("classify", self.deidentifier.classify, pending, results)
        clock.enter("transform")
        for index, work in pending:
            if results[index] is not None:  # the detector or the classifier could not handle this message alone
                continue
            stages = Stages("transform", work.opened.message_id, self.batch_seconds)
            try:
                decision = self.deidentifier.decide(scores.get(index)) if scores else NOTHING_FOUND
                done = self.deidentifier.finish(work.opened, spans[index], decision, stages)
                results[index] = self._emit(work, done)
            except Exception as exc:  # this message only
                results[index] = self._reject(work.message, exc, stages)
            stages.enter("transform")

    def _batched(
        self,
        stage: str,
        run: Callable[[list[str]], list[T]],
        pending: list[tuple[int, _Work]],
        results: list[ProcessResult | None],
    ) -> dict[int, list[T]]:
        """``run``'s answers per message still alive; a message it cannot handle alone is dead-lettered."""
        live = [(index, work) for index, work in pending if results[index] is None]
        answers: dict[int, list[T]] = {}
        for (index, work), found in zip(live, run_batched(stage, run, [w.opened.texts for _, w in live]), strict=True):
            if isinstance(found, Exception):
                results[index] = self._reject(work.message, found, Stages(stage, work.opened.message_id))
            else:
                answers[index] = found
        return answers

    def _emit(self, work: _Work, done: Deidentified[bytes]) -> ProcessResult:
        """Sign and size the de-identified output; audit what was done (counts, never values)."""
        message, message_id = work.message, work.opened.message_id
        role = OutputRole.RESTRICTED if done.restricted else OutputRole.REDACTED
        outbound = signed_output(
            self.keyring, role, self._protect_key(message.key), done.content, message_id, done.schema
        )
        if outbound.size > self.max_output_bytes:
            raise OutputTooLarge(
                "emit", f"de-identified record is {outbound.size} bytes with its headers; limit {self.max_output_bytes}"
            )
        entity_counts, action_counts = done.counts()
        common = {
            "actor": self.worker_id,
            "message_id": message_id,
            "schema": done.source_schema,
            "source": message.source,
        }
        event = processed_event(
            **common, entity_counts=entity_counts, action_counts=action_counts, details=done.leaves or None
        )
        found = done.decision.found
        decision_event = None
        if found:
            classifier = self.deidentifier.classifier
            decision_event = sensitive_event(
                **common,
                action=done.decision.action.value,
                categories={f.category.value: f.score for f in found},
                actions={f.category.value: f.action.value for f in found},
                classifier=classifier.name if classifier is not None else "none",
            )
        sensitive = tuple((f.category.value, f.action.value) for f in found)
        return ProcessResult(
            message_id, Outcome.OK, "emit", None, [outbound], message.partition, done.entities,
            audit_event=event, sensitive=sensitive, decision_event=decision_event,
        )  # fmt: skip

    # -- dead letters -------------------------------------------------------------------------------

    def _reject(self, message: InboundMessage, exc: BaseException, stages: Stages) -> ProcessResult:
        """The dead letter for one message's failure; never raises."""
        letter = self.dead_letters.for_failure(message, exc, stages.stage, stages.message_id, self.max_output_bytes)
        return self._letter_result(message, letter)

    def _letter_result(self, message: InboundMessage, letter: Letter) -> ProcessResult:
        return ProcessResult(
            letter.message_id, Outcome.DEADLETTER, letter.stage, letter.reason, [letter.outbound], message.partition,
            hmac_failed=letter.stage == "verify", audit_event=letter.event,
        )  # fmt: skip

    def _protect_key(self, key: bytes | None) -> bytes | None:
        """Record keys are patient or encounter ids: tokenized, so partitioning and joins still work."""
        if key is None:
            return None
        try:
            text = key.decode("utf-8")
        except UnicodeDecodeError:
            text = "b64:" + base64.b64encode(key).decode("ascii")
        return self.deidentifier.tokenizer.tokenize(text, PhiType.ID).encode("ascii")
