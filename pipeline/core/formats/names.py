"""The input formats, named once: the policy file's section and its settings, the paths its rules may
name, the ``phi-schema`` header, the command line.

HL7 v2 and FHIR are named by the signed ``phi-schema`` header itself (``hl7v2``, ``hl7v2:2.5``,
``fhir-r4``); an Avro record is named by its schema (``clinical_record:1``), so any other header is Avro.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pipeline.core.formats import fhir_model, hl7_model

_AVRO_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class Format(StrEnum):
    """The inputs a policy has rules for (the policy file's section names)."""

    HL7V2 = "hl7v2"
    FHIR = "fhir"
    AVRO = "avro"


def check_avro_path(path: str) -> str | None:
    """None when ``path`` is ``SCHEMA.FIELD[.FIELD...]``; otherwise what is wrong."""
    return None if _AVRO_PATH.match(path) else "an Avro path is SCHEMA.FIELD[.FIELD...] (clinical_record.ssn)"


@dataclass(frozen=True, slots=True)
class FormatName:
    """One format's spellings and policy grammar: ``header`` in ``phi-schema`` (empty: the header names an
    Avro schema), ``cli`` for ``phi-pipeline redact --format``, ``check_path`` for the paths its rules name
    (None: allowed, else what is wrong) and ``settings``, the keys of its section in a policy file."""

    format: Format
    header: str
    cli: str
    check_path: Callable[[str], str | None]
    settings: tuple[str, ...] = ("rules",)


FORMAT_NAMES: tuple[FormatName, ...] = (
    FormatName(Format.HL7V2, "hl7v2", "hl7v2", hl7_model.check_path, ("rules", "unlisted_segments")),
    FormatName(Format.FHIR, "fhir-r4", "fhir", fhir_model.check_path),
    FormatName(Format.AVRO, "", "jsonl", check_avro_path),
)
BY_FORMAT = {name.format: name for name in FORMAT_NAMES}
BY_HEADER = {name.header: name for name in FORMAT_NAMES if name.header}
BY_CLI = {name.cli: name for name in FORMAT_NAMES}


def format_of_header(schema_header: str | None) -> Format:
    """The format a ``phi-schema`` header names: HL7 v2 or FHIR by name (before any ``:``), else Avro."""
    name = (schema_header or "").split(":", 1)[0].strip().lower()
    found = BY_HEADER.get(name)
    return found.format if found is not None else Format.AVRO


def header_of(fmt: Format) -> str:
    """The ``phi-schema`` header value of a format named by its header (HL7 v2, FHIR)."""
    header = BY_FORMAT[fmt].header
    if not header:
        raise ValueError(f"{fmt.value} inputs are named by their Avro schema, not by a format header")
    return header
