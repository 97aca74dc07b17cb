"""Which stage a message is in, and how long each stage took.

The de-identifier moves one through decode, protect, transform and emit; the worker's envelope adds
verify, detect and classify. An unexpected exception is reported in the stage it happened in (never
with its text, which could quote a value), and the seconds feed the stage-latency metric.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

#: Stages timed under another's name, so the stage-latency metric keeps its labels.
_CLOCKED_AS = {"ingest": "verify", "emit": "transform"}


@dataclass
class Stages:
    """The current ``stage`` and the seconds spent per stage (shared by a batch's messages)."""

    stage: str = "verify"
    message_id: str | None = None
    seconds: Counter[str] = field(default_factory=Counter)
    _since: float = field(default_factory=time.perf_counter, repr=False)

    def enter(self, stage: str) -> None:
        """Close the current stage's clock and open ``stage``'s."""
        now = time.perf_counter()
        self.seconds[_CLOCKED_AS.get(self.stage, self.stage)] += now - self._since
        self.stage, self._since = stage, now
