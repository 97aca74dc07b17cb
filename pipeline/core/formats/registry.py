"""The clinical formats a worker reads, each with its processor under one policy's rules."""

from __future__ import annotations

from pipeline.core.errors import UnknownSchema
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2, ProtectedDocument
from pipeline.core.formats.fhir import FhirProcessor
from pipeline.core.formats.hl7v2 import Hl7Processor
from pipeline.core.formats.names import Format
from pipeline.core.formats.rules import FormatRules
from pipeline.core.formats.values import ValueProtector


class FormatProcessors:
    """``hl7v2`` and ``fhir-r4`` under ``rules``, the policy's rules per format."""

    def __init__(self, rules: dict[Format, FormatRules]) -> None:
        self._processors = {
            FORMAT_HL7V2: Hl7Processor(rules.get(Format.HL7V2, FormatRules())),
            FORMAT_FHIR: FhirProcessor(rules.get(Format.FHIR, FormatRules())),
        }

    def protect(self, fmt: str, value: bytes, protector: ValueProtector, explain: bool = False) -> ProtectedDocument:
        """``value`` protected; with ``explain``, its coverage records every leaf's rule and decision."""
        processor = self._processors.get(fmt)
        if processor is None:
            raise UnknownSchema("decode", f"no processor for the format {fmt!r}")
        return processor.protect(value, protector, explain)
