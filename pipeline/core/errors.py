"""Exception classes shared across layers.

Every message must be actionable and must never contain a value taken from a message: callers put
field names, sizes, offsets and reasons in them, not content.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class for errors this package raises on purpose."""


class ConfigError(PipelineError):
    """One or more settings are wrong; the message lists each with how to fix it."""


class SchemaError(PipelineError):
    """A schema file is missing, malformed, or its PHI tags are inconsistent."""


class RejectedMessage(PipelineError):
    """An input that cannot be processed and must become a dead letter.

    ``reason`` is a stable machine-readable code (used as a metrics label and in the dead letter),
    ``stage`` the stage that rejected it, and the message text a human explanation free of PHI.
    """

    def __init__(self, reason: str, stage: str, detail: str) -> None:
        super().__init__(f"{stage}: {reason}: {detail}")
        self.reason = reason
        self.stage = stage
        self.detail = detail
