"""The clinical formats a worker reads, each with its processor under one policy."""

from __future__ import annotations

from pipeline.core.errors import UnknownSchema
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2, ProtectedDocument
from pipeline.core.formats.fhir import FhirProcessor
from pipeline.core.formats.hl7v2 import Hl7Processor
from pipeline.core.formats.values import ValueProtector
from pipeline.core.policy.loader import default_policy
from pipeline.core.policy.model import Format, Policy


class FormatProcessors:
    """``hl7v2`` and ``fhir-r4`` under ``policy`` (the shipped Safe Harbor policy when None)."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()
        self._processors = {
            FORMAT_HL7V2: Hl7Processor(self.policy.rules(Format.HL7V2)),
            FORMAT_FHIR: FhirProcessor(self.policy.rules(Format.FHIR)),
        }

    def protect(self, fmt: str, value: bytes, protector: ValueProtector, explain: bool = False) -> ProtectedDocument:
        """``value`` protected; with ``explain``, its coverage records every leaf's rule and decision."""
        processor = self._processors.get(fmt)
        if processor is None:
            raise UnknownSchema("decode", f"no processor for the format {fmt!r}")
        return processor.protect(value, protector, explain)
