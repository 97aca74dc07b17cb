"""One way to build a :class:`RecordProcessor` for unit tests (rules detector unless one is given)."""

from __future__ import annotations

from typing import Any

from pipeline.core.deidentify import Deidentifier
from pipeline.core.detection import RuleDetector
from pipeline.core.processing import RecordProcessor


def unit_processor(
    registry: Any,
    keyring: Any,
    detector: Any = None,
    *,
    worker_id: str = "unit",
    default_schema: str = "clinical_record",
    max_message_bytes: int = 1_048_576,
    max_output_bytes: int | None = None,
    **kwargs: Any,
) -> RecordProcessor:
    deidentifier = Deidentifier(
        keyring=keyring,
        detector=detector or RuleDetector(),
        registry=registry,
        default_schema=default_schema,
        **kwargs,
    )
    return RecordProcessor(
        deidentifier=deidentifier,
        worker_id=worker_id,
        max_message_bytes=max_message_bytes,
        max_output_bytes=max_output_bytes,
    )
