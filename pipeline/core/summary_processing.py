"""De-identified records in, note summaries out: the summary agent minus Kafka.

The input is the pipeline's own output topic, so the text summarized is always the REDACTED note
(placeholders, tokens): the generator never sees an original. Each record's signature is checked
first (a record that did not come from the pipeline is not summarized). The generator's output is
re-scanned by the detector and checked by the faithfulness guard (:func:`finalize_summary`); a
summary that fails either becomes an extractive one. Summaries are optional and never hold up
redaction: they run in their own agent, and without a generator (``PHI_SUMMARIZER=extractive``) every note
gets the section-aware extractive summary, as its chosen method rather than a fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.core.audit import summary_event
from pipeline.core.codecs import decode_avro, encode_avro
from pipeline.core.crypto.audit_chain import PartitionChains
from pipeline.core.crypto.integrity import HEADER_SCHEMA, SignatureError, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.detection.base import TextDetector
from pipeline.core.errors import RejectedMessage, SchemaError
from pipeline.core.messages import (
    AUDIT_SCHEMA,
    InboundMessage,
    OutboundMessage,
    audit_output,
    signed_output,
)
from pipeline.core.roles import OutputRole
from pipeline.core.schemas import SchemaEntry, SchemaRegistry
from pipeline.core.sensitive import SensitiveAction
from pipeline.core.summary_guard import finalize_summary

SUMMARY_SCHEMA = "note_summary"


class GeneratedText(Protocol):
    text: str
    truncated: bool


Generate = Callable[[Sequence[str]], Sequence[GeneratedText]]


@dataclass
class SummaryResult:
    """The fate of one de-identified record on the summary path."""

    message_id: str
    outcome: str  # generated | extractive | extractive_fallback | skipped | error
    reason: str | None
    outputs: list[OutboundMessage]
    partition: int


@dataclass
class AgentAuditTrail:
    """One agent's audit trail: who it writes as, and chains of its own (``<worker>/<run>/<agent>/p<n>``).

    The redaction agent sends from another coroutine, so sharing its chains would let events reach the
    topic out of sequence order; the summary agent gets this instead of the whole redaction core.
    """

    actor: str
    keyring: Keyring
    schema: SchemaEntry
    chains: PartitionChains

    @classmethod
    def for_agent(
        cls, keyring: Keyring, registry: SchemaRegistry, worker_id: str, run_id: str, agent: str
    ) -> AgentAuditTrail:
        return cls(
            worker_id, keyring, registry.get(AUDIT_SCHEMA), PartitionChains(keyring, f"{worker_id}/{run_id}/{agent}")
        )

    def message(self, event: dict[str, Any], partition: int) -> OutboundMessage:
        """``event`` chained on this agent's chain for ``partition``, signed, as an audit output."""
        return audit_output(self.keyring, self.schema, self.chains.get(partition), event)


class SummaryProcessor:
    """Summarizes the free-text fields of de-identified records, one summary per record with a note."""

    def __init__(
        self,
        *,
        registry: SchemaRegistry,
        keyring: Keyring,
        detector: TextDetector,
        audit: AgentAuditTrail,
        generate: Generate | None,
        model_name: str | None,
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self.detector = detector
        self.audit = audit
        self.generate = generate
        self.model_name = model_name
        self._schema = registry.get(SUMMARY_SCHEMA)

    def process_batch(self, messages: Sequence[InboundMessage]) -> list[SummaryResult]:
        jobs: list[tuple[InboundMessage, str, bytes | None, str]] = []
        results: list[SummaryResult] = []
        for message in messages:
            found = self._note_of(message)
            if isinstance(found, SummaryResult):
                results.append(found)
            else:
                jobs.append((message, *found))
        texts = [note for _, _, _, note in jobs]
        generations: Sequence[GeneratedText | None] = [None] * len(texts)
        generation_error = None
        if self.generate is not None and texts:
            try:
                generations = self.generate(texts)
            except Exception as exc:  # the model failing must not stop summaries: fall back to extractive
                generation_error = f"generator-error:{type(exc).__name__}"
        rescans = self.detector.detect_batch([g.text if g is not None else "" for g in generations])
        for (message, message_id, key, note), generation, spans in zip(jobs, generations, rescans, strict=True):
            outcome = finalize_summary(
                note,
                generation.text if generation is not None else None,
                spans if generation is not None else [],
                truncated=bool(generation is not None and generation.truncated),
            )
            # Without a generator, extractive is the configured method (PHI_SUMMARIZER=extractive), not a fallback.
            chosen_extractive = self.generate is None
            reason = generation_error or (None if chosen_extractive else outcome.fallback_reason)
            record = {
                "message_id": message_id,
                "record_key": key.decode("utf-8", "replace") if key else None,
                "summary": outcome.summary,
                "method": outcome.method,
                "fallback_reason": reason,
                "model": self.model_name if generation is not None else None,
                "phi_found_in_summary": outcome.phi_found,
                "source_chars": len(note),
            }
            summary = signed_output(
                self.keyring, OutputRole.SUMMARY, key, encode_avro(self._schema, record), message_id, self._schema.ref
            )
            status = (
                "generated"
                if outcome.method == "generated"
                else "extractive"
                if chosen_extractive
                else "extractive_fallback"
            )
            event = summary_event(
                actor=self.audit.actor,
                message_id=message_id,
                outcome=status,
                reason=reason,
                phi_found=outcome.phi_found,
            )
            audit = self.audit.message(event, message.partition)
            results.append(SummaryResult(message_id, status, reason, [summary, audit], message.partition))
        return results

    def _note_of(self, message: InboundMessage) -> SummaryResult | tuple[str, bytes | None, str]:
        """(message id, key, redacted note) of a signed de-identified record, or the reason to skip it."""
        try:
            verified = verify_headers(self.keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
            schema = dict(message.headers).get(HEADER_SCHEMA, b"").decode("utf-8", "replace")
            record = decode_avro(self.registry.get(schema), message.value or b"")
            source = self.registry.get(str(record.get("source_schema", "")))
        except (SignatureError, SchemaError, RejectedMessage) as exc:
            reason = exc.reason  # every PipelineError carries its reason as a class attribute
            return SummaryResult("(unverified)", "error", reason, [], message.partition)
        if any(c.get("action") == SensitiveAction.DROP_SUMMARY for c in record.get("sensitive_categories") or ()):
            return SummaryResult(verified.message_id, "skipped", "sensitive-category", [], message.partition)
        notes = [record.get(p.name) for p in source.free_text_fields if record.get(p.name)]
        if not notes:
            return SummaryResult(verified.message_id, "skipped", "no-note", [], message.partition)
        return verified.message_id, message.key, "\n\n".join(str(n) for n in notes)
