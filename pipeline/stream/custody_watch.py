"""Re-checking key custody while a process runs (issue 16): revoking a workload's OpenBao policy stops it.

Shared by the worker (:mod:`pipeline.stream.app`) and the reveal service. The check unwraps the current
key of each purpose again; an unreachable OpenBao is only a warning (the keys are already in memory and
the next check tries again), a refusal is returned for the caller to stop on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pipeline.core.crypto.custody import KmsUnavailableError
from pipeline.core.errors import PipelineError

log = logging.getLogger(__name__)


async def check_custody(check: Callable[[], None], who: str) -> PipelineError | None:
    """Run ``check`` off the event loop; the error to stop on (logged as critical), or None."""
    try:
        await asyncio.to_thread(check)
    except KmsUnavailableError as exc:
        log.warning("key custody check: %s; keys stay in memory, next check later", exc)
    except PipelineError as exc:
        log.critical("key custody check failed, stopping the %s: %s", who, exc)
        return exc
    return None
