"""One de-identifier for every input, without Kafka: a record, a note, an HL7 v2 message, a FHIR resource.

A :class:`Deidentifier` is built from a policy, a detector, an optional sensitive-category classifier
and the keys. Content goes through one path whatever its kind: parse and protect the structured leaves
(by the policy's rules and the action table), detect PHI in the free text, find the record's own known
values again in it, remove every year for a patient aged 90 or over, classify the note and withhold its
text where the policy says so, transform the spans, render. What comes back is the protected content
and its decisions (:class:`Deidentified`): every transformation with its path, type, action and
detector, the spans, the sensitive categories and the coverage. Nothing here signs, audits or sends:
the worker's envelope (:mod:`pipeline.core.processing`) does that around it.

The worker batches detection across messages: it calls the stages itself (:meth:`Deidentifier.open`,
:meth:`detect`, :meth:`classify`, :meth:`finish`); :meth:`text`, :meth:`record` and :meth:`document`
run them for one input.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pipeline.core.budget import check_text_budget, detect_within
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.detection.base import Detector
from pipeline.core.detection.merge import Ensemble
from pipeline.core.errors import ProcessingFailed, RejectedMessage
from pipeline.core.formats.names import Format, format_of_header
from pipeline.core.formats.processor import AvroFormat, FormatProcessor, Protected, format_processors
from pipeline.core.formats.values import ValueProtector
from pipeline.core.known_values import KnownValueFinder
from pipeline.core.phi_types import PhiType
from pipeline.core.policy.detector import PolicyDetector
from pipeline.core.policy.loader import default_policy
from pipeline.core.policy.model import Policy
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
from pipeline.core.sensitive_evidence.coded import with_codes
from pipeline.core.spans import Span, disjoint_spans
from pipeline.core.stages import Stages
from pipeline.core.structured import TextSlot, Transformation, year_spans
from pipeline.core.transform import TransformContext, transform_text

T = TypeVar("T")
log = logging.getLogger(__name__)
Scores = list[dict[SensitiveCategory, float]]
TEXT_SCHEMA = "text"


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much was decided: structured values protected, free texts scanned, their characters, and the
    characters found to be PHI."""

    values: int
    texts: int
    characters: int
    phi_characters: int


@dataclass
class Deidentified(Generic[T]):
    """Protected content and its decisions. ``content`` is the text (None when withheld), the record, or
    the output bytes; ``message_id`` the id ciphertexts are bound to (decryption needs it); ``schema`` the
    output's ``phi-schema`` (the input schema for a record)."""

    content: T
    message_id: str
    schema: str
    source_schema: str
    transformations: list[Transformation]
    spans: list[list[Span]]
    decision: SensitiveDecision
    coverage: Coverage
    #: (phi type, detector) -> spans found, for the entities metric.
    entities: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Leaves by decision (ruled, detected, dropped, kept), counts only: the coverage record of deny by default.
    leaves: dict[str, str] = field(default_factory=dict)

    @property
    def withheld(self) -> bool:
        return self.decision.action is SensitiveAction.WITHHOLD_TEXT

    @property
    def restricted(self) -> bool:
        return self.decision.action is SensitiveAction.RESTRICT

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Transformations by PHI type and by action (what an audit event records)."""
        by_type: dict[str, int] = {}
        by_action: dict[str, int] = {}
        for item in self.transformations:  # one pass, in order of first appearance (as Counter counts)
            by_type[item.phi_type] = by_type.get(item.phi_type, 0) + 1
            by_action[item.action] = by_action.get(item.action, 0) + 1
        return by_type, by_action


@dataclass
class Opened:
    """An input parsed and its structured PHI protected, its free text still to do."""

    processor: FormatProcessor
    protected: Protected
    message_id: str

    @property
    def texts(self) -> list[str]:
        return [slot.text for slot in self.protected.texts]


@dataclass
class _Note:
    """Free text on its own (:meth:`Deidentifier.text`): one slot, no structure."""

    slot_holder: list[str | None]
    subject: str
    known: list[tuple[PhiType, str]]
    aged_90_plus: bool
    schema: str = TEXT_SCHEMA
    transformations: list[Transformation] = field(default_factory=list)

    @property
    def texts(self) -> list[TextSlot]:
        return [TextSlot(TEXT_SCHEMA, self.slot_holder, 0, self.slot_holder[0] or "")]


class Deidentifier:
    """De-identifies content under ``policy`` (the shipped Safe Harbor one when None) with ``detector``
    (wrapped in the policy's deny and allow lists and recognizers), ``keyring`` (tokens, ciphertexts,
    surrogates and date shifts) and, optionally, ``classifier`` (sensitive categories) with
    ``sensitive_policy`` (the policy file's ``sensitive:`` section wins for the categories it names).
    Avro records need ``registry``; inputs with no schema named take ``default_schema``."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        detector: Detector,
        policy: Policy | None = None,
        classifier: NoteClassifier | None = None,
        sensitive_policy: SensitivePolicy | None = None,
        registry: SchemaRegistry | None = None,
        default_schema: str | None = None,
        detector_name: str = "ensemble",
        max_text_chars: int | None = None,
        detect_budget_seconds: float | None = None,
    ) -> None:
        self.policy = policy or default_policy()
        #: Bounded work per input (pipeline.core.budget): text past ``max_text_chars`` and detection past
        #: ``detect_budget_seconds`` are refused (``text-too-large``, ``detect-timeout``), never a stall.
        self.max_text_chars = max_text_chars
        self.detect_budget_seconds = detect_budget_seconds
        self.keyring = keyring
        self.detector: Detector = PolicyDetector(detector, self.policy) if self.policy.changes_detection else detector
        self.detector_name = detector_name
        self.classifier = classifier
        base = sensitive_policy or SensitivePolicy()
        self.sensitive_policy = SensitivePolicy({**base.actions, **self.policy.sensitive})
        self.registry = registry
        self.tokenizer = Tokenizer(keyring)
        self._context: TransformContext | None = None  # see _base_context
        self.encryptor = Encryptor(keyring)
        self.ensemble = Ensemble()
        self.formats = format_processors(dict(self.policy.formats), registry, default_schema)

    # -- one input -----------------------------------------------------------------------------------

    def text(
        self,
        text: str,
        subject: str = "",
        *,
        known: Sequence[tuple[PhiType, str]] = (),
        aged_90_plus: bool = False,
        message_id: str | None = None,
    ) -> Deidentified[str | None]:
        """A note on its own. ``subject`` is the patient key (surrogates and date shifts are consistent per
        patient); ``known`` are values of the patient's record to find again in the text; ``aged_90_plus``
        removes every year. The content is None when the classifier's policy withholds the text."""
        return self._notes([_Note([text], subject, list(known), aged_90_plus)], [message_id or _new_id()])[0]

    def texts(self, texts: Sequence[str], subject: str = "") -> list[Deidentified[str | None]]:
        """Several notes of one patient (or of none), detection and classification batched across them."""
        return self._notes([_Note([text], subject, [], False) for text in texts], [_new_id() for _ in texts])

    def record(
        self, schema: SchemaEntry | str, record: Mapping[str, Any], *, message_id: str | None = None
    ) -> Deidentified[dict[str, Any]]:
        """A decoded record of an input schema (a :class:`SchemaEntry` or its ``name[:version]`` in the
        registry): the protected record (tagged fields protected, free text de-identified)."""
        entry = schema if isinstance(schema, SchemaEntry) else self._registry().get(schema)
        avro = self.formats[Format.AVRO]
        assert isinstance(avro, AvroFormat)
        message_id = message_id or _new_id()
        protected = avro.protect_record(entry, dict(record), self._protector(message_id))
        texts = [slot.text for slot in protected.texts]
        decision = self.with_codes(self._decision(texts), protected)
        decisions = self._transform(protected, message_id, self.detect(texts), decision)
        return Deidentified(protected.protected.record, message_id, entry.ref, entry.ref, *decisions)

    def document(self, schema: str, data: bytes, *, message_id: str | None = None) -> Deidentified[bytes]:
        """An input as bytes, named as the ``phi-schema`` header names it: ``hl7v2``, ``fhir-r4``, or an
        Avro schema (``clinical_record:1``; JSON or Avro binary). The output is in the same format (Avro:
        the schema's de-identified twin, with its transformations and categories)."""
        opened = self.open(schema, data, message_id or _new_id())
        return self.finish(opened, self.detect(opened.texts), self._decision(opened.texts))

    def documents(
        self, inputs: Sequence[tuple[str, bytes]], *, message_ids: Sequence[str] | None = None
    ) -> list[Deidentified[bytes] | RejectedMessage]:
        """Several inputs as :meth:`document` takes them, detection and classification batched across
        them; an input that cannot be de-identified comes back as its :class:`RejectedMessage` (the
        reason and stage say why, never the content), the others go on."""
        ids = list(message_ids) if message_ids is not None else [_new_id() for _ in inputs]
        out: dict[int, Deidentified[bytes] | RejectedMessage] = {}
        opened: list[tuple[int, Opened]] = []
        for index, ((schema, data), message_id) in enumerate(zip(inputs, ids, strict=True)):
            try:
                opened.append((index, self.open(schema, data, message_id)))
            except RejectedMessage as exc:
                out[index] = exc
        groups = [item.texts for _, item in opened]
        spans = run_batched("detect", self.detect, groups)
        scores = run_batched("classify", self.classify, groups)
        for (index, item), found, scored in zip(opened, spans, scores, strict=True):
            if isinstance(found, Exception) or isinstance(scored, Exception):
                stage, exc = ("detect", found) if isinstance(found, Exception) else ("classify", scored)
                out[index] = _rejection(stage, exc)
                continue
            try:
                out[index] = self.finish(item, found, self.decide(scored) if item.texts else NOTHING_FOUND)
            except RejectedMessage as exc:
                out[index] = exc
        return [out[index] for index in range(len(inputs))]

    # -- stages, for batches ---------------------------------------------------------------------------

    def open(self, schema: str | None, data: bytes, message_id: str, stages: Stages | None = None) -> Opened:
        """Parse ``data`` and protect its structured leaves; raises a
        :class:`pipeline.core.errors.RejectedMessage` for an input that cannot be (its reason says why)."""
        processor = self.formats[format_of_header(schema)]
        protected = processor.protect(schema or "", data, self._protector(message_id), stages or Stages())
        check_text_budget([slot.text for slot in protected.texts], self.max_text_chars)
        return Opened(processor, protected, message_id)

    def detect(self, texts: list[str]) -> list[list[Span]]:
        """The detector's spans for each text (under the policy's lists and recognizers)."""
        found = detect_within(self.detector, texts, self.detect_budget_seconds)
        if len(found) != len(texts):
            raise ProcessingFailed("detect", f"the detector returned {len(found)} results for {len(texts)} texts")
        return found

    def classify(self, texts: list[str]) -> Scores:
        """The classifier's scores for each text (none without a classifier)."""
        if self.classifier is None:
            return [{} for _ in texts]
        found = list(self.classifier.classify_batch(texts))
        if len(found) != len(texts):
            raise ProcessingFailed("classify", f"the classifier returned {len(found)} results for {len(texts)} texts")
        return found

    def decide(self, scores: Scores | None) -> SensitiveDecision:
        """The sensitive-category decision for one input from its texts' scores."""
        if self.classifier is None or not scores:
            return NOTHING_FOUND
        return decide(scores, self.classifier.thresholds, self.sensitive_policy)

    def with_codes(self, decision: SensitiveDecision, protected: Protected) -> SensitiveDecision:
        """``decision`` (the text's) with the categories of the input's coded values (diagnosis, test and
        medicine codes) added; none without a classifier (classification off)."""
        if self.classifier is None:
            return decision
        return with_codes(decision, protected.codes, self.classifier.thresholds, self.sensitive_policy)

    def finish(
        self,
        opened: Opened,
        detected: list[list[Span]],
        decision: SensitiveDecision = NOTHING_FOUND,
        stages: Stages | None = None,
    ) -> Deidentified[bytes]:
        """The codes' categories added to ``decision``, then known values, the 90+ rule, withholding and the
        transformation of each text, then the output."""
        stages = stages or Stages()
        stages.enter("transform")
        protected = opened.protected
        decision = self.with_codes(decision, protected)
        decisions = self._transform(protected, opened.message_id, detected, decision)
        stages.enter("emit")
        categories = [found.as_record() for found in decision.found]
        value, schema = opened.processor.render(protected, opened.message_id, decisions[0], categories)
        done = Deidentified(value, opened.message_id, schema, protected.schema, *decisions)
        done.leaves = protected.coverage.as_details()
        return done

    def _transform(
        self, protected: Protected, message_id: str, detected: list[list[Span]], decision: SensitiveDecision
    ) -> tuple[list[Transformation], list[list[Span]], SensitiveDecision, Coverage, Counter[tuple[str, str]]]:
        """Each text of ``protected`` de-identified in place; the decisions taken, in :class:`Deidentified`'s order."""
        transformations = list(protected.transformations)
        context = self._base_context().derive(patient_key=protected.subject)
        slots = protected.texts
        finder = KnownValueFinder(protected.known) if slots else None
        entities: Counter[tuple[str, str]] = Counter()
        acted: list[list[Span]] = []
        scanned = phi_chars = 0
        for slot, spans in zip(slots, detected, strict=True):
            scanned += len(slot.text)
            if decision.action is SensitiveAction.WITHHOLD_TEXT:  # none of this input's free text leaves
                slot.replace(None)
                transformations.append(Transformation(slot.path, "FREE_TEXT", "withhold", None, None, "sensitive"))
                acted.append([])
                continue
            text = slot.text
            known = finder.find(text) if finder is not None else []
            spans = self.ensemble.merge([*spans, *known], text)
            if protected.aged_90_plus:  # Safe Harbor: no year survives in the notes of a patient aged 90+
                spans = [*spans, *year_spans(text)]
            result = transform_text(text, spans, self.policy.text, self._text_context(context, message_id, slot.path))
            slot.place(result, spans)
            entities.update((span.type.value, span.detector) for span in spans)
            phi_chars += sum(s.end - s.start for s in disjoint_spans(spans))
            acted.append(spans)
            transformations.extend(
                Transformation(slot.path, str(s.type), str(s.action), s.start, s.end, self.detector_name)
                for s in result.spans
            )
        coverage = Coverage(len(protected.transformations), len(acted), scanned, phi_chars)
        return transformations, acted, decision, coverage, entities

    # -- helpers --------------------------------------------------------------------------------------

    def _notes(self, notes: list[_Note], message_ids: list[str]) -> list[Deidentified[str | None]]:
        texts = [note.slot_holder[0] or "" for note in notes]
        spans, scores = self.detect(texts), self.classify(texts)
        out: list[Deidentified[str | None]] = []
        for index, (note, message_id) in enumerate(zip(notes, message_ids, strict=True)):
            decision = self.decide(scores[index : index + 1])
            decisions = self._transform(note, message_id, [spans[index]], decision)
            out.append(Deidentified(note.slot_holder[0], message_id, TEXT_SCHEMA, TEXT_SCHEMA, *decisions))
        return out

    def _decision(self, texts: list[str]) -> SensitiveDecision:
        return self.decide(self.classify(texts)) if texts and self.classifier is not None else NOTHING_FOUND

    def _protector(self, message_id: str) -> ValueProtector:
        base = self._base_context()
        tokenize, encrypt = self.tokenizer.tokenize, self.encryptor.encrypt
        return ValueProtector(message_id, tokenize, encrypt, base.secret, base.shift_days, base=base)

    def _base_context(self) -> TransformContext:
        """The context every record's and value's copies (no patient, no encryption): made and checked once
        per pseudonym key (a rotated key makes a new one)."""
        secret = self.keyring.current(KeyPurpose.PSEUDONYM).material
        base = self._context
        if base is None or base.secret is not secret or base.shift_days is not self.policy.shift_days:
            base = self._context = TransformContext(
                patient_key="", secret=secret, tokenize=self.tokenizer.tokenize, shift_days=self.policy.shift_days
            )
        return base

    def _text_context(self, base: TransformContext, message_id: str, path: str) -> TransformContext:
        """``base`` with encryption bound to this message and this text's path (as for structured values)."""
        encrypt = self._protector(message_id).context(path).encrypt
        return TransformContext(base.patient_key, base.secret, base.tokenize, encrypt, base.shift_days)

    def _registry(self) -> SchemaRegistry:
        if self.registry is None:
            raise ProcessingFailed("decode", "records need the schema registry: Deidentifier(registry=...)")
        return self.registry


def run_batched(
    stage: str, run: Callable[[list[str]], list[T]], groups: Sequence[list[str]]
) -> list[list[T] | Exception]:
    """``run``'s answers per text, per group of texts (one input's): one call for all of them; if it fails,
    one call per group, so an input the model cannot handle fails alone (its exception in its place)."""
    texts = [text for group in groups for text in group]
    if not texts:
        return [[] for _ in groups]
    try:
        found = run(texts)
    except Exception as exc:
        log.warning(
            "%s failed on a batch of %d texts (%s); retrying input by input", stage, len(texts), type(exc).__name__
        )
    else:
        answers: list[list[T] | Exception] = []
        position = 0
        for group in groups:
            answers.append(found[position : position + len(group)])
            position += len(group)
        return answers
    out: list[list[T] | Exception] = []
    for group in groups:
        try:
            out.append(run(group) if group else [])
        except Exception as exc:  # this input only
            out.append(exc)
    return out


def _rejection(stage: str, exc: Exception) -> RejectedMessage:
    """``exc`` as a rejection: its own when it is one, else its class only (its text may quote a value)."""
    if isinstance(exc, RejectedMessage):
        return exc
    return ProcessingFailed(stage, f"unexpected {type(exc).__name__} in stage {stage}")


def _new_id() -> str:
    return uuid.uuid4().hex
