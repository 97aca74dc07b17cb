"""``phi-pipeline reveal-server``: re-identification as an access-controlled HTTPS service (issue 16).

The only workload whose OpenBao policy unwraps the token and encryption keys. A caller:

1. ``POST /v1/sessions`` with ``Authorization: Bearer <API token or OIDC JWT>`` and ``X-TOTP: <code>``
   gets a session token (201). Sessions end after ``PHI_REVEAL_IDLE_TIMEOUT`` seconds unused and
   after ``PHI_REVEAL_SESSION_MAX``; revoking or expiring the API token (or the JWT) ends them too.
2. ``POST /v1/reveal`` with ``Authorization: Bearer <session>``, ``X-TOTP: <code>`` (every reveal) and a
   JSON body ``{"protected", "phi_type", "purpose", "role"?, "message_id"?, "field_path"?,
   "break_glass"?}`` gets ``{"value": ...}`` if the role allows the PHI type for that purpose.
3. ``DELETE /v1/sessions`` logs out.

Every attempt at 1, 2 or 3, allowed or not, is exactly one audit event on the audit topic, signed into a
hash chain of the service's own, and acknowledged by the broker *before* the answer leaves: if the audit
cannot be written, nothing is revealed (503). The event and the log line name the user, role, PHI type,
purpose, outcome, reason, key id and API token id, never the value, the protected text, a token, a
TOTP code or a secret. ``phi_reveals_total{role,outcome}`` feeds the ``PhiRevealSpike`` alert and the
break-glass outcome the ``PhiRevealBreakGlass`` one. The OpenAPI document is ``GET /openapi.json``
(checked in beside this module as ``reveal_openapi.json``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from aiokafka import AIOKafkaProducer

from pipeline.config import Settings
from pipeline.core.access.oidc import JwtBadSignature, JwtRejected, JwtUnknownKey, key_id, looks_like_jwt, verify_jwt
from pipeline.core.access.reveal import (
    ALLOWED,
    ALLOWED_BREAK_GLASS,
    DENIED_AUTH,
    DENIED_MFA,
    DENIED_RATE,
    DENIED_ROLE,
    EMERGENCY,
    INVALID,
    OUTCOMES,
    PURPOSES,
    UNAVAILABLE,
    AccessPolicy,
    RevealPolicyError,
    User,
    describe_protected,
    format_time,
    match_totp,
    open_protected,
    parse_type,
    safe_name,
    safe_path,
)
from pipeline.core.access.sessions import (
    MemoryTotpSteps,
    RateLimiter,
    Session,
    SessionStore,
    TotpSteps,
    new_totp_owner,
)
from pipeline.core.audit import reveal_event
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.core.messages import audit_output
from pipeline.core.schemas import SchemaRegistry
from pipeline.stream.admin import start_client
from pipeline.stream.custody_watch import CustodyGuard
from pipeline.stream.kafka_options import client_options
from pipeline.stream.metrics import PipelineMetrics

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).with_name("reveal_openapi.json")
AUDIT_UNAVAILABLE = "audit-unavailable"
STATUS = {ALLOWED: 200, ALLOWED_BREAK_GLASS: 200, DENIED_AUTH: 401, DENIED_MFA: 401, DENIED_ROLE: 403,
          DENIED_RATE: 429, INVALID: 422, UNAVAILABLE: 503}  # fmt: skip
MAX_BODY = 64 * 1024


class AuditWriter:
    """Each attempt signed into the service's own hash chain and acknowledged by the audit topic."""

    def __init__(self, settings: Settings, keyring: Keyring, registry: SchemaRegistry) -> None:
        self.settings = settings
        self.keyring = keyring
        self.schema = registry.get("audit_event")
        self.chain = AuditChain(keyring, f"reveal/{settings.worker_id}/{uuid.uuid4().hex[:12]}")
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._producer = await start_client(
            self.settings,
            lambda: AIOKafkaProducer(**client_options(self.settings), acks="all", linger_ms=0),
            lambda client: client.stop(),
        )

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def write(self, attempt: dict[str, Any]) -> None:
        if self._producer is None:
            raise RuntimeError("audit producer not started")
        async with self._lock:  # chain order is send order
            out = audit_output(self.keyring, self.schema, self.chain, reveal_event(attempt))
            sent = await self._producer.send(
                self.settings.topic_audit, value=out.value, key=out.key, headers=list(out.headers)
            )
            await sent


class JwksSource:
    """The OIDC issuer's key set over HTTPS, fetched by PyJWT's :class:`jwt.PyJWKClient`: cached for
    ``ttl`` seconds, 10 s timeout, redirects refused, only ``url`` contacted. A token naming an unknown key
    id refetches the set at most once per ``refresh_after`` seconds (counted from the last fetch of any
    kind), so a flood of forged key ids cannot hammer the issuer while a rotated key is still picked up."""

    def __init__(self, url: str, cafile: Path | None, ttl: float = 300.0, refresh_after: float = 10.0) -> None:
        self.url = url
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        self.client = jwt.PyJWKClient(
            url, lifespan=ttl, timeout=10, ssl_context=context, cooldown_duration=refresh_after
        )

    def get(self) -> jwt.PyJWKSet:
        """The cached key set (fetched when absent or older than ``ttl``).

        Raises :class:`OSError` when the issuer cannot be reached, :class:`JwtBadSignature` when its
        answer holds no usable key."""
        return self._call(self.client.get_jwk_set)

    def refresh_for(self, token: str) -> jwt.PyJWKSet:
        """The key set after a refetch for the token's unknown key id, if the cooldown allows one.

        Raises :class:`JwtUnknownKey` when the id is still unknown (or the cooldown holds the refetch)."""
        kid = key_id(token)
        if kid is None:
            return self.get()
        try:
            self._call(self.client.get_signing_key, kid)
        except JwtBadSignature:
            raise JwtUnknownKey("the JWT names a key the issuer's JWKS does not hold") from None
        return self.get()

    @staticmethod
    def _call(method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except jwt.PyJWKClientConnectionError as exc:
            raise OSError("the OIDC issuer's JWKS could not be fetched") from exc
        except (jwt.PyJWKClientError, jwt.PyJWKSetError):
            raise JwtBadSignature("the issuer's JWKS holds no usable key") from None


@dataclass
class Attempt:
    """One request's audit record in the making; :meth:`RevealService.finish` writes it once."""

    endpoint: str
    fields: dict[str, Any] = field(default_factory=dict)
    user: User | None = None

    def event(self, outcome: str, reason: str | None) -> dict[str, Any]:
        return {
            "event": "reveal",
            "time": format_time(datetime.now(UTC)),
            "actor": self.user.name if self.user else None,
            "endpoint": self.endpoint,
            "outcome": outcome,
            "reason": reason,
            **self.fields,
        }


class RevealService:
    """The handlers, with the access file (reloaded when it changes), sessions, limits, keys and audit."""

    def __init__(
        self,
        settings: Settings,
        keyring: Keyring,
        audit: Callable[[dict[str, Any]], Awaitable[None]],
        metrics: PipelineMetrics,
        *,
        jwks: JwksSource | None = None,
        clock: Callable[[], float] = time.time,
        totp_steps: TotpSteps | None = None,
        custody: CustodyGuard | None = None,
    ) -> None:
        if settings.reveal_access_file is None:
            raise ConfigError("PHI_REVEAL_ACCESS_FILE is not set: the reveal service needs its access file")
        self.settings = settings
        self.access_path = settings.reveal_access_file
        self.tokenizer = Tokenizer(keyring)
        self.encryptor = Encryptor(keyring)
        self.audit = audit
        self.metrics = metrics
        self.jwks = jwks
        self.clock = clock
        self.sessions = SessionStore(settings.reveal_idle_timeout, settings.reveal_session_max, clock)
        self.limiter = RateLimiter(settings.reveal_rate_limit, 60.0, clock)
        self.totp_steps = totp_steps if totp_steps is not None else MemoryTotpSteps()
        self.custody = custody
        self._policy = AccessPolicy.load(self.access_path)
        self._policy_mtime = os.stat(self.access_path).st_mtime_ns
        self._prime_metrics()

    # ---- shared steps -------------------------------------------------------------------------------

    @property
    def policy(self) -> AccessPolicy:
        """The access file, reloaded when it changed on disk (a revoked token takes effect at once)."""
        try:
            mtime = os.stat(self.access_path).st_mtime_ns
            if mtime != self._policy_mtime:
                self._policy = AccessPolicy.load(self.access_path)
                self._policy_mtime = mtime
                self._prime_metrics()
                log.info("reveal access file reloaded (%d users, %d API tokens)", len(self._policy.users),
                         len(self._policy.tokens))  # fmt: skip
        except (OSError, RevealPolicyError) as exc:
            log.error("reveal access file not reloaded, keeping the previous one: %s", exc)
        return self._policy

    def _prime_metrics(self) -> None:
        logins = [ALLOWED, DENIED_AUTH, DENIED_MFA, DENIED_RATE, UNAVAILABLE, AUDIT_UNAVAILABLE]
        self.metrics.prime_reveal([*self._policy.roles, "(none)"], [*OUTCOMES, AUDIT_UNAVAILABLE], logins)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def finish(
        self, attempt: Attempt, outcome: str, reason: str | None, body: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> web.Response:  # fmt: skip
        """Write the attempt's one audit event (acknowledged), count it, log it, and answer."""
        event = attempt.event(outcome, reason)
        role = attempt.fields.get("role")
        role_label = role if role in self.policy.roles else "(none)"
        try:
            await self.audit(event)
        except Exception as exc:  # any failure to record means nothing is revealed
            log.error("reveal attempt NOT audited (%s): refusing it", type(exc).__name__)
            self._count(attempt, role_label, AUDIT_UNAVAILABLE)
            return web.json_response({"outcome": AUDIT_UNAVAILABLE, "reason": "audit topic unavailable"}, status=503)
        self._count(attempt, role_label, outcome)
        level = logging.CRITICAL if outcome == ALLOWED_BREAK_GLASS else logging.INFO
        log.log(
            level,
            "%sreveal %s: user=%s role=%s type=%s purpose=%s outcome=%s reason=%s key=%s",
            "BREAK-GLASS " if outcome == ALLOWED_BREAK_GLASS else "",
            attempt.endpoint, event["actor"] or "(unauthenticated)", role_label, attempt.fields.get("phi_type"),
            attempt.fields.get("purpose"), outcome, reason, attempt.fields.get("key_id"),
        )  # fmt: skip
        payload = body if body is not None else {"outcome": outcome, "reason": reason}
        headers = {"Cache-Control": "no-store"}
        if outcome in (DENIED_AUTH, DENIED_MFA):
            headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{reason}"'
        if outcome == DENIED_RATE and attempt.user is not None:
            headers["Retry-After"] = str(self.limiter.retry_after(attempt.user.name))
        return web.json_response(payload, status=status or STATUS[outcome], headers=headers)

    def _count(self, attempt: Attempt, role_label: str, outcome: str) -> None:
        """Reveals by role and outcome (``PhiRevealSpike``, ``PhiRevealBreakGlass``); logins apart."""
        if attempt.endpoint == "reveal":
            self.metrics.reveals.labels(role_label, outcome).inc()
        else:
            self.metrics.reveal_sessions.labels(outcome).inc()

    @staticmethod
    def bearer(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        return credential.strip() or None if scheme.lower() == "bearer" else None

    async def _authenticate(self, credential: str | None, attempt: Attempt) -> tuple[str | None, float | None]:
        """Set ``attempt.user`` from an API token or OIDC JWT; returns ``(reason, credential expiry)``."""
        if not credential:
            return "credential-missing", None
        if looks_like_jwt(credential):
            attempt.fields["auth"] = "oidc"
            if self.jwks is None:
                return "oidc-not-configured", None
            try:
                claims = await asyncio.to_thread(self._verify_jwt, credential)
            except JwtRejected as exc:
                return exc.reason, None
            except OSError:
                log.error("the OIDC issuer's JWKS could not be fetched from %s", self.settings.reveal_oidc_jwks_url)
                return "oidc-jwks-unavailable", None
            user = self.policy.user_for_subject(claims.get("sub"))
            if user is None:
                return "oidc-subject-not-enrolled", None
            attempt.user = user
            attempt.fields["credential"] = "oidc"
            return None, float(claims["exp"])
        attempt.fields["auth"] = "api-token"
        found = self.policy.authenticate_api_token(credential, self.now())
        attempt.fields["credential"] = found.credential
        if found.user is None:
            return found.reason, None
        attempt.user = found.user
        return None, found.expires.timestamp() if found.expires else None

    def _verify_jwt(self, token: str) -> dict[str, Any]:
        assert self.jwks is not None
        issuer, audience = self.settings.reveal_oidc_issuer, self.settings.reveal_oidc_audience
        try:
            return verify_jwt(token, self.jwks.get(), issuer, audience)
        except JwtUnknownKey:
            return verify_jwt(token, self.jwks.refresh_for(token), issuer, audience)

    def _custody_lost(self) -> tuple[str, str] | None:
        """``(unavailable, reason)`` once key custody is lost: nothing is revealed any more."""
        lost = self.custody.lost if self.custody is not None else None
        return (UNAVAILABLE, lost.reason) if lost is not None else None

    async def _second_factor(self, request: web.Request, attempt: Attempt, owner: str) -> tuple[str, str] | None:
        """Key custody, rate limit, then a TOTP step not used before (by ``owner``, the session's id, or
        by none): ``(outcome, reason)`` when the attempt stops here."""
        assert attempt.user is not None
        lost = self._custody_lost()
        if lost:
            return lost
        if not self.limiter.allow(attempt.user.name):
            return DENIED_RATE, "rate-limit"
        step, reason = match_totp(attempt.user, request.headers.get("X-TOTP"), self.now())
        if step is None:
            return DENIED_MFA, reason or "totp-invalid"
        try:
            fresh = await asyncio.to_thread(self.totp_steps.claim, attempt.user.name, step, owner)
        except PipelineError as exc:  # a step that cannot be recorded cannot be known to be one-time
            log.error("TOTP step not recorded, refusing the attempt: %s", exc)
            return UNAVAILABLE, "totp-store-unavailable"
        return None if fresh else (DENIED_MFA, "totp-replayed")

    # ---- endpoints ----------------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        attempt = Attempt("session")
        reason, expires = await self._authenticate(self.bearer(request), attempt)
        if reason:
            return await self.finish(attempt, DENIED_AUTH, reason)
        assert attempt.user is not None
        owner = new_totp_owner()
        stopped = await self._second_factor(request, attempt, owner)
        if stopped:
            return await self.finish(attempt, *stopped)
        token = self.sessions.open(
            attempt.user.name, attempt.fields["auth"], attempt.fields.get("credential") or "oidc", expires, owner
        )
        body = {
            "outcome": ALLOWED,
            "session": token,
            "user": attempt.user.name,
            "roles": sorted(attempt.user.roles),
            "idle_timeout_seconds": self.settings.reveal_idle_timeout,
            "max_age_seconds": self.settings.reveal_session_max,
        }
        return await self.finish(attempt, ALLOWED, None, body, status=201)

    def _session(self, request: web.Request, attempt: Attempt) -> tuple[Session | None, str | None]:
        attempt.fields["auth"] = "session"
        session, reason = self.sessions.touch(self.bearer(request))
        if session is None:
            return None, reason
        attempt.user = self.policy.users.get(session.user)
        attempt.fields["credential"] = session.credential if session.auth_method == "api-token" else "oidc"
        if attempt.user is None:
            return None, "user-removed"
        if session.auth_method == "api-token":
            gone = self.policy.still_valid(session.credential, self.now())
            if gone:
                self.sessions.close_user_credential(session.credential)
                return None, gone
        return session, None

    async def logout(self, request: web.Request) -> web.Response:
        attempt = Attempt("logout")
        session, reason = self._session(request, attempt)
        if session is None:
            return await self.finish(attempt, DENIED_AUTH, reason)
        self.sessions.close(self.bearer(request))
        return await self.finish(attempt, ALLOWED, None, {"outcome": ALLOWED, "reason": "logged-out"})

    async def reveal(self, request: web.Request) -> web.Response:
        attempt = Attempt("reveal")
        body = await self._body(request)
        if isinstance(body, dict):
            kind, key_id = describe_protected(body.get("protected"))
            ptype = parse_type(body.get("phi_type"))
            attempt.fields.update(
                phi_type=ptype.value if ptype else "(invalid)",
                purpose=body.get("purpose") if body.get("purpose") in PURPOSES else "(invalid)",
                protected_kind=kind,
                key_id=key_id,
                message_id=safe_name(body.get("message_id")),
                field_path=safe_path(body.get("field_path")),
            )
        session, reason = self._session(request, attempt)
        if session is None:
            return await self.finish(attempt, DENIED_AUTH, reason)
        assert attempt.user is not None
        held = sorted(attempt.user.roles)
        role = (body.get("role") if isinstance(body, dict) else None) or (held[0] if len(held) == 1 else None)
        attempt.fields["role"] = safe_name(role)
        stopped = await self._second_factor(request, attempt, session.totp_owner)
        if stopped:
            return await self.finish(attempt, *stopped)
        if not isinstance(body, dict):
            return await self.finish(attempt, INVALID, body, status=400)
        if not isinstance(role, str) or ptype is None or body.get("purpose") not in PURPOSES:
            why = (
                "role-missing"
                if not isinstance(role, str)
                else "phi-type-unknown"
                if ptype is None
                else "purpose-unknown"
            )
            return await self.finish(attempt, INVALID, why, status=400)
        break_glass = body.get("break_glass") is True
        if break_glass and body.get("purpose") != EMERGENCY:
            return await self.finish(attempt, DENIED_ROLE, "break-glass-needs-emergency-purpose")
        outcome, reason = self.policy.authorize(attempt.user, role, ptype, body["purpose"], break_glass)
        if outcome == DENIED_ROLE:
            return await self.finish(attempt, outcome, reason)
        value, invalid = open_protected(
            body.get("protected", ""), ptype, self.tokenizer, self.encryptor, body.get("message_id"),
            body.get("field_path"),
        )  # fmt: skip
        if value is None:
            return await self.finish(attempt, INVALID, invalid)
        return await self.finish(attempt, outcome, reason, {"outcome": outcome, "reason": reason, "value": value})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | str:
        """The JSON body, or the reason it is unusable (``request-malformed``)."""
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError, web.HTTPRequestEntityTooLarge):
            return "request-malformed"
        if not isinstance(data, dict) or not isinstance(data.get("protected"), str):
            return "request-malformed"
        for name in ("message_id", "field_path"):
            if data.get(name) is not None and not isinstance(data[name], str):
                return "request-malformed"
        return data

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/json")

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/v1/sessions", self.login)
        app.router.add_delete("/v1/sessions", self.logout)
        app.router.add_post("/v1/reveal", self.reveal)
        app.router.add_get("/openapi.json", self.openapi)
        app.router.add_get("/healthz", self.healthz)
        return app


def server_tls_context(certfile: Path | None, keyfile: Path | None) -> ssl.SSLContext:
    """HTTPS only (TLS 1.2 or later): the reveal service never answers in clear."""
    if certfile is None or keyfile is None:
        raise ConfigError(
            "the reveal service serves HTTPS only: set PHI_REVEAL_TLS_CERTFILE and PHI_REVEAL_TLS_KEYFILE"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile))
    return context
