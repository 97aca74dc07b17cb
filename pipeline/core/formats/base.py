"""What a clinical-format processor hands the record pipeline: the protected message, its free text
for the detector, and a way to write it out once the text is de-identified."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.coverage import Coverage
from pipeline.core.formats.names import Format, format_of_header, header_of
from pipeline.core.phi_types import PhiType
from pipeline.core.sensitive_evidence.coded import CodedEvidence
from pipeline.core.structured import TextSlot, Transformation

#: ``phi-schema`` header values that name a clinical format instead of an Avro schema (name before ':').
FORMAT_HL7V2 = header_of(Format.HL7V2)
FORMAT_FHIR = header_of(Format.FHIR)


@dataclass(slots=True)
class ProtectedDocument:
    """A parsed HL7 v2 message or FHIR resource with its structured PHI protected.

    ``texts`` are the free-text values for the detector (each replaced in place by the record
    pipeline); ``render`` writes the message out afterwards and checks that it still parses
    (HL7 v2) or validates (FHIR R4), raising :class:`pipeline.core.errors.InvalidOutput` if not.
    ``schema`` is the ``phi-schema`` header of the output; ``subject`` the patient key.
    """

    format: str
    schema: str
    subject: str
    render: Callable[[], bytes]
    texts: list[TextSlot] = field(default_factory=list)
    transformations: list[Transformation] = field(default_factory=list)
    known: list[tuple[PhiType, str]] = field(default_factory=list)
    aged_90_plus: bool = False
    #: Every leaf's decision, counted (and recorded, for ``policy explain``).
    coverage: Coverage = field(default_factory=Coverage)
    #: The sensitive categories of its coded values (diagnosis, test and medicine codes), read before protection.
    codes: CodedEvidence = field(default_factory=CodedEvidence)


class SlotWriter:
    """A stand-in container for :class:`TextSlot`: assigning to it calls ``write`` (re-escape, re-encode).

    A message format has no null for a text it keeps the field of, so withheld text (None) is written empty.
    """

    __slots__ = ("write",)

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def __setitem__(self, key: Any, text: str | None) -> None:
        self.write(text or "")


def format_of(schema_header: str | None) -> str | None:
    """The clinical format a ``phi-schema`` header names (``hl7v2``, ``hl7v2:2.5``, ``fhir-r4``), else None."""
    fmt = format_of_header(schema_header)
    return None if fmt is Format.AVRO else header_of(fmt)
