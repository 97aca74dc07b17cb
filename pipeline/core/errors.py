"""Exception classes shared across layers: one root, one way to carry a reason.

Every exception this package raises on purpose derives from :class:`PipelineError` and names its
stable, machine-readable ``reason`` as a class attribute (a metrics label, a dead-letter code, an
audit field): a subclass per reason, never a reason passed at run time.

Every message must be actionable and must never contain a value taken from a message: callers put
field names, sizes, offsets and reasons in them, not content.
"""

from __future__ import annotations

from typing import ClassVar


class PipelineError(Exception):
    """Base class for errors this package raises on purpose."""

    reason: ClassVar[str] = "pipeline-error"


class ConfigError(PipelineError):
    """One or more settings are wrong; the message lists each with how to fix it."""

    reason = "config"


class SchemaError(PipelineError):
    """A schema file is missing, malformed, or its PHI tags are inconsistent."""

    reason = "schema"


class RejectedMessage(PipelineError):
    """An input that cannot be processed and must become a dead letter.

    The class's ``reason`` is the stable code (dead letter, audit event, metrics label), ``stage`` the
    stage that rejected it, and ``detail`` a human explanation free of PHI. Raise a subclass.
    """

    reason = "rejected"

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(f"{stage}: {self.reason}: {detail}")
        self.stage = stage
        self.detail = detail


class EmptyMessage(RejectedMessage):
    reason = "empty"


class OversizedMessage(RejectedMessage):
    reason = "oversized"


class UndecodableMessage(RejectedMessage):
    reason = "undecodable"


class InvalidUtf8(RejectedMessage):
    """Bytes that are not UTF-8 where text must be."""

    reason = "invalid-utf8"


class UnencodableText(RejectedMessage):
    """Text that no UTF-8 encoder can write, such as a lone UTF-16 surrogate from a JSON ``\\ud800`` escape."""

    reason = "invalid-unicode"


class InvalidJson(RejectedMessage):
    reason = "invalid-json"


class NumberTooLarge(RejectedMessage):
    """A JSON integer longer than the interpreter converts (Python's integer-string limit)."""

    reason = "number-too-large"


class UnknownSchema(RejectedMessage):
    reason = "schema-unknown"


class SchemaMismatch(RejectedMessage):
    reason = "schema-mismatch"


class InvalidField(RejectedMessage):
    """A tagged field whose value cannot take its action (a date with no year to keep, for example)."""

    reason = "invalid-field"


class OutputTooLarge(RejectedMessage):
    reason = "output-too-large"


class OutputRejected(RejectedMessage):
    """The broker refused to store this message's output (too large or invalid for the topic)."""

    reason = "output-rejected"


class ProcessingFailed(RejectedMessage):
    """An unexpected exception while handling one message; the detail names the stage and the class only."""

    reason = "processing-error"


# -- clinical formats (HL7 v2, FHIR R4) -------------------------------------------------------------


class InvalidHl7(RejectedMessage):
    """Not an HL7 v2 message this pipeline can read: no MSH, an unsupported version, a parse failure."""

    reason = "invalid-hl7"


class InvalidFhir(RejectedMessage):
    """Not a FHIR R4 resource or Bundle this pipeline can read: not JSON, or not valid against R4."""

    reason = "invalid-fhir"


class InvalidOutput(RejectedMessage):
    """The de-identified message no longer parses or validates (HL7 v2 structure, FHIR R4 model)."""

    reason = "output-invalid"


class TextTooLarge(RejectedMessage):
    """A message's text for the detector is past the per-message budget (``PHI_MAX_TEXT_CHARS``)."""

    reason = "text-too-large"


class DetectTimeout(RejectedMessage):
    """Detection of one message took longer than its time budget (``PHI_DETECT_BUDGET_SECONDS``)."""

    reason = "detect-timeout"
