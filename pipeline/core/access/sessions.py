"""Reveal sessions that end after inactivity, one-time TOTP steps, and a per-user rate limit: pure, with
an injected clock.

Why: HIPAA 164.312(a)(2)(iii), automatic logoff: a session not used for ``idle_timeout`` seconds ends,
and none outlives ``max_age``. Session tokens are 256-bit random strings handed to the client once;
only their SHA-256 is kept, so a memory dump of the service does not hand out live sessions.

One-time codes (RFC 6238 section 5.2): the last TOTP time step accepted for each user is kept with the
session it opened (:class:`StepRecord`, in a store every replica shares: OpenBao's key-value engine,
:class:`pipeline.runtime.openbao.OpenBaoTotpSteps`). A code is accepted only for a later step than that
one, so it opens at most one session and no other login or session can use it again (``totp-replayed``);
inside the session it opened, the same code confirms that session's reveals until its step is over (the
command-line client logs in and reveals with one code). :func:`step_allowed` is the rule.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Session:
    """Who a session belongs to and how they logged in (``credential``: an API token id or ``oidc``)."""

    user: str
    auth_method: str
    credential: str
    created: float
    last_seen: float
    credential_expires: float | None = None
    totp_owner: str = ""  # the id under which this session's TOTP steps are recorded (never the token)


def new_totp_owner() -> str:
    """A random id for a session-to-be, recorded beside the TOTP step that opens it."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """The last TOTP time step accepted for a user, and the session (its ``totp_owner``) that used it."""

    step: int
    owner: str


def step_allowed(last: StepRecord | None, step: int, owner: str) -> bool:
    """A later step than the last one accepted, or the same step by the session that used it."""
    if last is None or step > last.step:
        return True
    return step == last.step and hmac.compare_digest(last.owner, owner)


class TotpSteps(Protocol):
    """Where the last accepted TOTP step of each user lives; ``claim`` is atomic across replicas."""

    def claim(self, user: str, step: int, owner: str) -> bool:
        """Record ``step`` for ``user`` on behalf of ``owner`` if :func:`step_allowed`; False: a replay."""
        ...


class MemoryTotpSteps:
    """The steps in this process only: right for one replica (a plain-keyring demo), not for several."""

    def __init__(self) -> None:
        self._last: dict[str, StepRecord] = {}
        self._lock = threading.Lock()

    def claim(self, user: str, step: int, owner: str) -> bool:
        with self._lock:
            if not step_allowed(self._last.get(user), step, owner):
                return False
            self._last[user] = StepRecord(step, owner)
            return True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    """Open, look up (touching), and close sessions; lookups say why a session is gone."""

    def __init__(self, idle_timeout: float, max_age: float, clock: Callable[[], float] = time.time) -> None:
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(
        self,
        user: str,
        auth_method: str,
        credential: str,
        credential_expires: float | None = None,
        totp_owner: str = "",
    ) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._prune(now)
            self._sessions[_digest(token)] = Session(
                user, auth_method, credential, now, now, credential_expires, totp_owner
            )
        return token

    def touch(self, token: str | None) -> tuple[Session | None, str | None]:
        """The live session for ``token`` (its idle clock restarted) or ``(None, reason)``:
        ``session-missing``, ``session-unknown``, ``session-idle-expired``, ``session-too-old``,
        ``credential-expired`` (the JWT or API token it was opened with has expired)."""
        if not token:
            return None, "session-missing"
        now = self.clock()
        key = _digest(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None, "session-unknown"
            reason = None
            if now - session.last_seen > self.idle_timeout:
                reason = "session-idle-expired"
            elif now - session.created > self.max_age:
                reason = "session-too-old"
            elif session.credential_expires is not None and now >= session.credential_expires:
                reason = "credential-expired"
            if reason:
                del self._sessions[key]
                return None, reason
            session = replace(session, last_seen=now)
            self._sessions[key] = session
            return session, None

    def close(self, token: str | None) -> bool:
        with self._lock:
            return self._sessions.pop(_digest(token), None) is not None if token else False

    def close_user_credential(self, credential: str) -> int:
        """End every session opened with ``credential`` (an API token that was revoked)."""
        with self._lock:
            doomed = [k for k, s in self._sessions.items() if s.credential == credential]
            for k in doomed:
                del self._sessions[k]
            return len(doomed)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > self.idle_timeout]:
            del self._sessions[key]


class RateLimiter:
    """At most ``limit`` attempts per key in any ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count an attempt; False when ``key`` already used its ``limit`` in the window."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def retry_after(self, key: str) -> int:
        hits = self._hits.get(key)
        if not hits:
            return 0
        return max(1, int(self.window - (self.clock() - hits[0])) + 1)
