"""Losing key custody is a decision with a bound (issues 16 and 28), shared by the worker and the reveal service.

Every ``PHI_OPENBAO_CHECK_INTERVAL`` seconds the process unwraps the current key of each purpose again and
hands the outcome to :class:`CustodyGuard`, which decides:

* OpenBao answers: custody holds (and an earlier silence is forgotten);
* OpenBao is sealed (an operator's emergency stop), or refuses this workload (a revoked policy, a login
  refused): custody is lost at once;
* OpenBao does not answer: the keys already in memory serve for at most ``PHI_CUSTODY_GRACE_SECONDS``
  counted from the first unanswered check; custody is lost once that grace has run out.

A lost custody is never regained in the same process: the worker commits what it has sent and exits
(:func:`exit_code`), the reveal service refuses every reveal. A restart unwraps the keys afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pipeline.core.crypto.custody import KmsSealedError, KmsUnavailableError
from pipeline.core.errors import PipelineError

log = logging.getLogger(__name__)

EXIT_CUSTODY_UNAVAILABLE = 69  # EX_UNAVAILABLE: OpenBao sealed, or silent past the grace (as at start)
EXIT_KMS_DENIED = 77  # EX_NOPERM: the KMS no longer lets this process unwrap its keys


class CustodyLostError(PipelineError):
    """OpenBao did not answer for longer than ``PHI_CUSTODY_GRACE_SECONDS``."""

    reason = "custody-lost"


class CustodyGuard:
    """Turns each custody check's outcome into keep-going or stop; ``lost`` is the reason to stop, once set."""

    def __init__(self, grace_seconds: float, who: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_seconds = grace_seconds
        self.who = who
        self.clock = clock
        self.lost: PipelineError | None = None
        self._silent_since: float | None = None

    def observe(self, error: PipelineError | None) -> PipelineError | None:
        """Record one check's outcome (None: OpenBao unwrapped the keys); the reason to stop, or None."""
        if self.lost is not None:
            return self.lost
        if error is None:
            if self._silent_since is not None:
                log.warning("key custody check: OpenBao answers again; the %s goes on", self.who)
                self._silent_since = None
            return None
        if isinstance(error, KmsUnavailableError) and not isinstance(error, KmsSealedError):
            now = self.clock()
            if self._silent_since is None:
                self._silent_since = now
            silent = now - self._silent_since
            if silent < self.grace_seconds:
                log.warning(
                    "key custody check: %s; keys stay in memory for at most %.0f s more (PHI_CUSTODY_GRACE_SECONDS)",
                    error,
                    self.grace_seconds - silent,
                )
                return None
            error = CustodyLostError(
                f"OpenBao has not answered for {silent:.0f} s, past PHI_CUSTODY_GRACE_SECONDS="
                f"{self.grace_seconds:g} ({error})"
            )
        self.lost = error
        log.critical("key custody lost, stopping the %s: %s", self.who, error)
        return error

    async def check(self, check: Callable[[], None]) -> PipelineError | None:
        """Run ``check`` (it raises a :class:`PipelineError` when custody fails) off the event loop, and decide."""
        try:
            await asyncio.to_thread(check)
        except PipelineError as exc:
            return self.observe(exc)
        return self.observe(None)


def exit_code(error: PipelineError) -> int:
    """69 when OpenBao is sealed or silent past the grace (a start would fail the same way), 77 when it
    refused this workload (a revoked policy)."""
    return EXIT_CUSTODY_UNAVAILABLE if isinstance(error, KmsUnavailableError | CustodyLostError) else EXIT_KMS_DENIED
