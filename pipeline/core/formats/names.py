"""The input formats, named once: the policy file's section, the ``phi-schema`` header, the command line.

HL7 v2 and FHIR are named by the signed ``phi-schema`` header itself (``hl7v2``, ``hl7v2:2.5``,
``fhir-r4``); an Avro record is named by its schema (``clinical_record:1``), so any other header is Avro.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Format(StrEnum):
    """The inputs a policy has rules for (the policy file's section names)."""

    HL7V2 = "hl7v2"
    FHIR = "fhir"
    AVRO = "avro"


@dataclass(frozen=True, slots=True)
class FormatName:
    """One format's spellings: ``header`` in ``phi-schema`` (empty: the header names an Avro schema) and
    ``cli`` for ``phi-pipeline redact --format``."""

    format: Format
    header: str
    cli: str


FORMAT_NAMES: tuple[FormatName, ...] = (
    FormatName(Format.HL7V2, "hl7v2", "hl7v2"),
    FormatName(Format.FHIR, "fhir-r4", "fhir"),
    FormatName(Format.AVRO, "", "jsonl"),
)
BY_HEADER = {name.header: name for name in FORMAT_NAMES if name.header}
BY_CLI = {name.cli: name for name in FORMAT_NAMES}


def format_of_header(schema_header: str | None) -> Format:
    """The format a ``phi-schema`` header names: HL7 v2 or FHIR by name (before any ``:``), else Avro."""
    name = (schema_header or "").split(":", 1)[0].strip().lower()
    found = BY_HEADER.get(name)
    return found.format if found is not None else Format.AVRO


def header_of(fmt: Format) -> str:
    """The ``phi-schema`` header value of a format named by its header (HL7 v2, FHIR)."""
    for name in FORMAT_NAMES:
        if name.format is fmt and name.header:
            return name.header
    raise ValueError(f"{fmt.value} inputs are named by their Avro schema, not by a format header")
