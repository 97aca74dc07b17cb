"""One protocol for every input format, and the table of them: Avro records, HL7 v2 and FHIR R4.

A format processor parses an input, protects its structured leaves through the policy's rules (by the
action table), hands over its free text (:class:`TextSlot`), and renders the de-identified form once
the text is done. Avro is one format among the three: its tags are its rules, its schema its parser.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.core.avro_writer import Encoded, Write, compile_parts_writer, varint
from pipeline.core.codecs import decode, encode_avro
from pipeline.core.coverage import Coverage as LeafCoverage
from pipeline.core.errors import UnknownSchema
from pipeline.core.formats.base import ProtectedDocument
from pipeline.core.formats.names import Format, format_of_header, header_of
from pipeline.core.formats.registry import FormatProcessors
from pipeline.core.formats.rules import FormatRules
from pipeline.core.formats.values import ValueProtector
from pipeline.core.generalize import GeneralizationError, year_only
from pipeline.core.phi_types import PhiType
from pipeline.core.schemas import SchemaEntry, SchemaRegistry
from pipeline.core.sensitive_evidence.avro_codes import codes_in_record
from pipeline.core.sensitive_evidence.coded import CodedEvidence, classify_codes
from pipeline.core.stages import Stages
from pipeline.core.structured import ProtectedRecord, ProtectValue, TextSlot, Transformation, protect_record
from pipeline.core.transform.dateparse import shift_date_text


class Protected(Protocol):
    """An input with its structured PHI protected, its free text still to do."""

    schema: str  # the input's schema or format, as the audit trail names it
    subject: str  # the patient key: scopes surrogates and date shifts
    texts: list[TextSlot]
    transformations: list[Transformation]
    known: list[tuple[PhiType, str]]
    aged_90_plus: bool
    coverage: LeafCoverage  # every leaf's decision (deny by default), counted in the audit event
    codes: CodedEvidence  # the sensitive categories of its coded values, read before protection


class FormatProcessor(Protocol):
    """Parse and protect (``protect``), then write out once the free text is de-identified (``render``)."""

    format: Format

    def protect(self, schema: str, value: bytes, protector: ValueProtector, stages: Stages) -> Protected: ...

    def render(
        self, protected: Any, message_id: str, transformations: Sequence[Transformation], categories: list[dict]
    ) -> tuple[bytes, str]:
        """The output's bytes and its ``phi-schema`` header."""
        ...


class AvroDates:
    """Dates in Avro string fields: any text with a four-digit year generalizes to it; shifts keep the shape."""

    def year(self, value: str) -> str | None:
        try:
            return year_only(value)
        except GeneralizationError:
            return None

    def shift(self, value: str, days: int) -> str | None:
        return shift_date_text(value, days)


AVRO_DATES = AvroDates()


@dataclass
class AvroRecord:
    """A decoded record under its schema's tags (:class:`Protected`)."""

    entry: SchemaEntry
    protected: ProtectedRecord
    subject: str
    codes: CodedEvidence = field(default_factory=CodedEvidence)

    @property
    def schema(self) -> str:
        return self.entry.ref

    @property
    def texts(self) -> list[TextSlot]:
        return self.protected.texts

    @property
    def transformations(self) -> list[Transformation]:
        return self.protected.transformations

    @property
    def known(self) -> list[tuple[PhiType, str]]:
        return self.protected.known

    @property
    def aged_90_plus(self) -> bool:
        return self.protected.aged_90_plus

    @property
    def coverage(self) -> LeafCoverage:
        return self.protected.coverage


def avro_values(protector: ValueProtector) -> ProtectValue:
    """An Avro record's tagged values through ``protector``, with Avro's date notation (a partial: no
    Python frame of its own per value)."""
    return functools.partial(protector.protect, dates=AVRO_DATES)


class TransformationBytes:
    """An output's ``phi_transformations`` in its Avro encoding, from each transformation's bytes: a
    structured field's transformation is one object that every record with that field shares
    (:func:`pipeline.core.structured.protect_record`), so its bytes are written once, not per record;
    and records of one schema mostly share the whole sequence too, so its array's bytes are kept whole."""

    def __init__(self, limit: int = 16_384) -> None:
        self._limit = limit
        #: Per output schema (by identity): its item writer, the bytes of each transformation by identity
        #: and of each whole sequence by its items' identities (the objects kept beside their bytes, so
        #: their ids cannot be reused while the entry lives).
        self._outputs: dict[
            int,
            tuple[SchemaEntry, Write | None, dict[int, Any], dict[tuple[int, ...], tuple[tuple[Any, ...], Encoded]]],
        ] = {}

    def encode(self, output: SchemaEntry, transformations: Sequence[Transformation]) -> Encoded | None:
        """The array's bytes, or None where the output's ``phi_transformations`` is not compiled."""
        found = self._outputs.get(id(output))
        if found is None or found[0] is not output:
            found = self._outputs[id(output)] = (output, _item_writer(output), {}, {})
        write, items, arrays = found[1], found[2], found[3]
        if write is None:
            return None
        key = tuple(map(id, transformations))
        whole = arrays.get(key)
        if whole is not None and all(map(operator.is_, whole[0], transformations)):
            return whole[1]
        shared = True  # every item one that other records share: the whole array is kept too
        parts = [varint(len(transformations))] if transformations else []
        for item in transformations:
            if item.start is not None:  # a span in free text: its own object, never seen again
                write(item.as_record(), parts)
                shared = False
                continue
            known = items.get(id(item))
            if known is None or known[0] is not item:
                if len(items) >= self._limit:  # objects made for one record (withheld texts): start again
                    items.clear()
                own: list[bytes] = []
                write(item.as_record(), own)
                known = items[id(item)] = (item, b"".join(own))
            parts.append(known[1])
        parts.append(b"\x00")
        encoded = Encoded(b"".join(parts))
        if shared:
            if len(arrays) >= self._limit:
                arrays.clear()
            arrays[key] = (tuple(transformations), encoded)
        return encoded


def _item_writer(output: SchemaEntry) -> Write | None:
    """The compiled writer of one ``phi_transformations`` item of ``output`` (None: not compiled)."""
    if output.writer is None or not isinstance(output.parsed, dict):
        return None
    for avro_field in output.parsed.get("fields", ()):
        kind = avro_field.get("type")
        if avro_field.get("name") == "phi_transformations" and isinstance(kind, dict) and kind.get("type") == "array":
            return compile_parts_writer(kind["items"])
    return None


TRANSFORMATION_BYTES = TransformationBytes()


class AvroFormat:
    """Avro or JSON records of the registry's input schemas; the output is the schema's de-identified twin."""

    format = Format.AVRO

    def __init__(self, registry: SchemaRegistry | None, default_schema: str | None = None) -> None:
        self.registry = registry
        self.default_schema = default_schema

    def protect(self, schema: str, value: bytes, protector: ValueProtector, stages: Stages) -> AvroRecord:
        stages.enter("decode")
        entry, record = decode(self._registry(), schema, value, self.default_schema or "")
        return self.protect_record(entry, record, protector, stages)

    def protect_record(
        self, entry: SchemaEntry, record: dict[str, Any], protector: ValueProtector, stages: Stages | None = None
    ) -> AvroRecord:
        if stages is not None:
            stages.enter("protect")
        subject = str(record.get(entry.subject_field) or "") if entry.subject_field else ""
        protector.patient_key = subject
        codes = classify_codes(codes_in_record(entry.code_fields, record))  # before protection
        return AvroRecord(entry, protect_record(entry, record, avro_values(protector)), subject, codes)

    def render(
        self, protected: AvroRecord, message_id: str, transformations: Sequence[Transformation], categories: list[dict]
    ) -> tuple[bytes, str]:
        output = self._registry().output_for(protected.entry)
        record = dict(protected.protected.record)
        record.update(message_id=message_id, source_schema=protected.entry.ref, sensitive_categories=categories)
        if output.writer is not None:
            try:
                shared = TRANSFORMATION_BYTES.encode(output, transformations)
                if shared is not None:
                    record["phi_transformations"] = shared
                    return output.writer(record), output.ref
            except Exception:  # noqa: S110 - a value the compiled writer does not take: fastavro writes it below
                pass
        record["phi_transformations"] = [t.as_record() for t in transformations]
        return encode_avro(output, record), output.ref

    def _registry(self) -> SchemaRegistry:
        if self.registry is None:
            raise UnknownSchema("decode", "Avro records need the schema registry (PHI_SCHEMA_DIR)")
        return self.registry


class ClinicalFormat:
    """HL7 v2 or FHIR R4 through its processor; the output is the same format, re-parsed or validated."""

    def __init__(self, fmt: Format, processors: FormatProcessors) -> None:
        self.format = fmt
        self.header = header_of(fmt)
        self._processors = processors

    def protect(self, schema: str, value: bytes, protector: ValueProtector, stages: Stages) -> ProtectedDocument:
        stages.enter("decode")
        return self._processors.protect(self.header, value, protector)

    def render(
        self,
        protected: ProtectedDocument,
        message_id: str,
        transformations: Sequence[Transformation],
        categories: list[dict],
    ) -> tuple[bytes, str]:
        return protected.render(), protected.schema


def format_processors(
    rules: dict[Format, FormatRules], registry: SchemaRegistry | None, default_schema: str | None
) -> dict[Format, FormatProcessor]:
    """The table of formats: one processor per :class:`Format`, under the policy's rules."""
    clinical = FormatProcessors(rules)
    table: dict[Format, FormatProcessor] = {
        Format.AVRO: AvroFormat(registry, default_schema),
        Format.HL7V2: ClinicalFormat(Format.HL7V2, clinical),
        Format.FHIR: ClinicalFormat(Format.FHIR, clinical),
    }
    return table


__all__ = ["AVRO_DATES", "AvroFormat", "ClinicalFormat", "FormatProcessor", "Protected", "format_of_header"]
