"""One way to build a :class:`RecordProcessor` for unit tests (rules detector unless one is given)."""

from __future__ import annotations

from typing import Any

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
    **kwargs: Any,
) -> RecordProcessor:
    return RecordProcessor(
        registry=registry,
        keyring=keyring,
        detector=detector or RuleDetector(),
        worker_id=worker_id,
        max_message_bytes=max_message_bytes,
        default_schema=default_schema,
        **kwargs,
    )
