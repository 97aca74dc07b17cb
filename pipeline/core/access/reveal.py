"""Who may turn a token or ciphertext back into its value, for what purpose, and the record of every try.

Why: HIPAA's access-control (164.312(a)), authentication (164.312(d)) and audit (164.312(b))
safeguards. The reveal service (:mod:`pipeline.interfaces.reveal_server`) is the only workload whose
KMS policy unwraps what decryption needs; this module is its pure core: the access file, API-token
authentication, the second factor, roles per PHI type and purpose of use, break-glass, opening the
protected value, and the audit record of an attempt (never the value, the token or a secret).

Access file (JSON; a Kubernetes Secret in the chart)::

    {
      "roles": {
        "privacy-officer": {"phi_types": ["*"], "purposes": ["operations", "legal"]},
        "care-coordinator": {"phi_types": ["NAME", "MRN", "PHONE"], "purposes": ["treatment"]},
        "emergency-physician": {"phi_types": ["*"], "purposes": ["emergency"], "break_glass": true}
      },
      "users": [
        {"user": "alice", "roles": ["privacy-officer"], "totp_secret": "<base32>",
         "oidc_subject": "alice@hospital.example"}
      ],
      "api_tokens": [
        {"id": "t-3f9a", "user": "alice", "hash": "sha256:<64 hex>", "expires": "2026-03-01T00:00:00Z",
         "revoked": false}
      ]
    }

``"*"`` allows every PHI type. API tokens are stored only as hashes made by :func:`hash_api_token`
(``sha256`` for the high-entropy tokens :func:`new_api_token` makes, ``scrypt`` for anything a human
chose), each expires and can be revoked (``phi-pipeline reveal-tokens``). Every entry is compared with
:func:`hmac.compare_digest` and the loop never stops early, so timing says nothing about which matched.
The TOTP secret must be kept retrievable to check codes: the file is mode 0600 and a Secret.

Outcomes (audit events and the ``phi_reveals_total{outcome}`` metric): ``allowed``,
``allowed-break-glass`` (alerts), ``denied-auth`` (no, wrong, expired or revoked credential, a JWT that
fails, a session that expired), ``denied-mfa`` (TOTP missing, wrong, or ``totp-replayed``: a time step
already used, see :mod:`pipeline.core.access.sessions`), ``denied-role`` (role not held,
PHI type or purpose not allowed), ``denied-rate-limit``, ``invalid`` (a malformed request, or a
protected value that is malformed, altered, under an unknown or retired key, of another PHI type or
out of its context; ``reason`` says which), ``unavailable`` (key custody lost, or the used TOTP steps
could not be read or recorded: nothing is revealed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp

from pipeline.core.crypto.envelope import Encryptor, EnvelopeError, is_ciphertext, parse_ciphertext
from pipeline.core.crypto.keyring import is_key_id
from pipeline.core.crypto.tokens import TokenError, Tokenizer, is_token, parse_token
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError, parse_phi_type

ALL_TYPES = "*"
ALLOWED = "allowed"
ALLOWED_BREAK_GLASS = "allowed-break-glass"
DENIED_AUTH = "denied-auth"
DENIED_MFA = "denied-mfa"
DENIED_ROLE = "denied-role"
DENIED_RATE = "denied-rate-limit"
INVALID = "invalid"
UNAVAILABLE = "unavailable"  # 503: key custody lost, or the TOTP step could not be recorded
OUTCOMES = (ALLOWED, ALLOWED_BREAK_GLASS, DENIED_AUTH, DENIED_MFA, DENIED_ROLE, DENIED_RATE, INVALID, UNAVAILABLE)
#: Purposes of use a request may state (HL7's PurposeOfUse, in short words).
PURPOSES = ("treatment", "payment", "operations", "public-health", "research", "legal", "emergency")
EMERGENCY = "emergency"

_SCRYPT_DEFAULTS = (2**14, 8, 1)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._@:/+-]{1,128}$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._@:/+\[\]-]{1,200}$")


class RevealPolicyError(ConfigError):
    """The access file is missing or malformed; the message says what to fix."""


def new_api_token() -> str:
    """A fresh 256-bit API token to hand to a person once (store only :func:`hash_api_token` of it)."""
    return secrets.token_urlsafe(32)


def hash_api_token(token: str, scheme: str = "sha256") -> str:
    """The string to put in an API token's ``hash`` field: ``sha256:<hex>`` or ``scrypt:n:r:p:salt:hash``."""
    if scheme == "sha256":
        return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
    if scheme == "scrypt":
        n, r, p = _SCRYPT_DEFAULTS
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(token.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
        b64 = base64.b64encode
        return f"scrypt:{n}:{r}:{p}:{b64(salt).decode()}:{b64(digest).decode()}"
    raise ValueError("scheme must be 'sha256' or 'scrypt'")


def _parse_time(where: str, text: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise RevealPolicyError(f"{where} must be an ISO 8601 time such as 2026-03-01T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One API token: its id (safe to log), holder, hash (kept out of repr), expiry and revocation."""

    token_id: str
    user: str
    hash: str = field(repr=False)
    expires: datetime
    revoked: bool = False

    def matches(self, token: bytes, token_sha256: bytes) -> bool:
        """Constant-time check of a presented token against this entry's stored hash."""
        scheme, _, rest = self.hash.partition(":")
        if scheme == "sha256":
            return hmac.compare_digest(token_sha256, bytes.fromhex(rest))
        n, r, p, salt, digest = rest.split(":")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            token, salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), maxmem=2**27, dklen=len(expected)
        )
        return hmac.compare_digest(got, expected)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.token_id,
            "user": self.user,
            "hash": self.hash,
            "expires": format_time(self.expires),
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """What a role may reveal (PHI types), for which stated purposes, and whether it is break-glass."""

    name: str
    phi_types: frozenset[PhiType]
    purposes: frozenset[str]
    break_glass: bool = False


@dataclass(frozen=True, slots=True)
class User:
    """A person who may reveal: roles held, TOTP secret (kept out of repr), OIDC subject."""

    name: str
    roles: frozenset[str]
    totp_secret: str = field(repr=False)
    oidc_subject: str | None = None


def _validate_hash(where: str, spec: object) -> str:
    if not isinstance(spec, str):
        raise RevealPolicyError(f"{where}: hash must be a string made by hash_api_token()")
    scheme, _, rest = spec.partition(":")
    if scheme == "sha256" and re.fullmatch(r"[0-9a-f]{64}", rest):
        return spec
    if scheme == "scrypt":
        parts = rest.split(":")
        try:
            ok = len(parts) == 5 and all(int(x) > 0 for x in parts[:3])
            ok = ok and len(base64.b64decode(parts[3], validate=True)) > 0
            ok = ok and len(base64.b64decode(parts[4], validate=True)) >= 16
        except (ValueError, binascii.Error):
            ok = False
        if ok:
            return spec
    raise RevealPolicyError(
        f"{where}: hash must be 'sha256:<64 lowercase hex>' or 'scrypt:<n>:<r>:<p>:<salt b64>:<hash b64>'"
    )


def _role(name: str, spec: object) -> RoleGrant:
    where = f"role {name!r}"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("phi_types"), list):
        raise RevealPolicyError(f'{where}: must be an object with a "phi_types" list (or ["*"]) and "purposes"')
    types = spec["phi_types"]
    try:
        phi_types = frozenset(PhiType) if ALL_TYPES in types else frozenset(parse_phi_type(str(t)) for t in types)
    except UnknownPhiTypeError as exc:
        raise RevealPolicyError(f"{where}: {exc}") from None
    purposes = spec.get("purposes")
    if not isinstance(purposes, list) or not purposes or not set(purposes) <= set(PURPOSES):
        raise RevealPolicyError(f'{where}: "purposes" must be a non-empty list of: {", ".join(PURPOSES)}')
    break_glass = spec.get("break_glass", False)
    if not isinstance(break_glass, bool):
        raise RevealPolicyError(f'{where}: "break_glass" must be true or false')
    if break_glass and EMERGENCY not in purposes:
        raise RevealPolicyError(f'{where}: a break-glass role must allow the "{EMERGENCY}" purpose')
    return RoleGrant(name, phi_types, frozenset(purposes), break_glass)


def _user(index: int, spec: object, roles: Mapping[str, RoleGrant]) -> User:
    where = f"users[{index}]"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("user"), str) or not _SAFE_NAME.match(spec["user"]):
        raise RevealPolicyError(f'{where}: needs a "user" name of letters, digits and ._@:/+-')
    held = spec.get("roles")
    if not isinstance(held, list) or not all(isinstance(r, str) for r in held):
        raise RevealPolicyError(f'{where}: "roles" must be a list of role names')
    unknown = sorted(set(held) - set(roles))
    if unknown:
        raise RevealPolicyError(f'{where}: role(s) {", ".join(unknown)} are not defined under "roles"')
    secret = spec.get("totp_secret")
    try:
        ok = isinstance(secret, str) and len(base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))) >= 16
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise RevealPolicyError(f'{where}: "totp_secret" must be base32 of at least 16 bytes (pyotp.random_base32())')
    subject = spec.get("oidc_subject")
    if subject is not None and not isinstance(subject, str):
        raise RevealPolicyError(f'{where}: "oidc_subject" must be a string')
    return User(spec["user"], frozenset(held), secret, subject)


def _api_token(index: int, spec: object, users: Mapping[str, User]) -> ApiToken:
    where = f"api_tokens[{index}]"
    if not isinstance(spec, Mapping):
        raise RevealPolicyError(f"{where} must be a JSON object")
    token_id, user = spec.get("id"), spec.get("user")
    if not isinstance(token_id, str) or not _SAFE_NAME.match(token_id):
        raise RevealPolicyError(f'{where}: needs an "id" (letters, digits and ._@:/+-)')
    if user not in users:
        raise RevealPolicyError(f'{where}: "user" must name an entry of "users"')
    if "expires" not in spec:
        raise RevealPolicyError(f'{where}: needs "expires" (API tokens always expire)')
    revoked = spec.get("revoked", False)
    if not isinstance(revoked, bool):
        raise RevealPolicyError(f'{where}: "revoked" must be true or false')
    return ApiToken(
        token_id,
        user,
        _validate_hash(where, spec.get("hash")),
        _parse_time(f"{where}.expires", spec["expires"]),
        revoked,
    )


@dataclass(frozen=True, slots=True)
class Authentication:
    """Who a credential names (or why none): ``reason`` is a stable code, ``credential`` a safe id."""

    user: User | None
    reason: str | None
    credential: str | None = None
    expires: datetime | None = None


@dataclass(frozen=True)
class AccessPolicy:
    """Roles, users and API tokens, validated at load."""

    roles: Mapping[str, RoleGrant]
    users: Mapping[str, User]
    tokens: tuple[ApiToken, ...]

    @classmethod
    def from_dict(cls, data: object) -> AccessPolicy:
        if not isinstance(data, Mapping) or not isinstance(data.get("roles"), Mapping):
            raise RevealPolicyError('the access file must be a JSON object with a "roles" object')
        roles = {name: _role(name, spec) for name, spec in data["roles"].items()}
        raw_users = data.get("users", [])
        if not isinstance(raw_users, list):
            raise RevealPolicyError('"users" must be a list')
        users: dict[str, User] = {}
        for i, spec in enumerate(raw_users):
            user = _user(i, spec, roles)
            if user.name in users:
                raise RevealPolicyError(f"users[{i}]: user {user.name} appears twice")
            users[user.name] = user
        raw_tokens = data.get("api_tokens", [])
        if not isinstance(raw_tokens, list):
            raise RevealPolicyError('"api_tokens" must be a list')
        tokens = tuple(_api_token(i, spec, users) for i, spec in enumerate(raw_tokens))
        ids = [t.token_id for t in tokens]
        if len(set(ids)) != len(ids):
            raise RevealPolicyError("api_tokens: every id must be unique")
        return cls(roles, users, tokens)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AccessPolicy:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RevealPolicyError(f"access file {p} does not exist") from None
        except (OSError, ValueError) as exc:
            raise RevealPolicyError(f"access file {p} is not readable JSON ({type(exc).__name__})") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The file form (for ``reveal-tokens`` to rewrite it)."""
        return {
            "roles": {
                r.name: {
                    "phi_types": [ALL_TYPES]
                    if r.phi_types == frozenset(PhiType)
                    else sorted(t.value for t in r.phi_types),
                    "purposes": sorted(r.purposes),
                    **({"break_glass": True} if r.break_glass else {}),
                }
                for r in self.roles.values()
            },
            "users": [
                {
                    "user": u.name,
                    "roles": sorted(u.roles),
                    "totp_secret": u.totp_secret,
                    **({"oidc_subject": u.oidc_subject} if u.oidc_subject else {}),
                }
                for u in self.users.values()
            ],
            "api_tokens": [t.to_dict() for t in self.tokens],
        }

    def with_tokens(self, tokens: Iterable[ApiToken]) -> AccessPolicy:
        return replace(self, tokens=tuple(tokens))

    def authenticate_api_token(self, api_token: str, now: datetime) -> Authentication:
        """Check every entry (no early exit), then say why a match cannot be used, if it cannot."""
        if not isinstance(api_token, str) or not api_token:
            return Authentication(None, "credential-missing")
        raw = api_token.encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(raw).digest()
        found: ApiToken | None = None
        for entry in self.tokens:
            if entry.matches(raw, digest) and found is None:
                found = entry
        if found is None:
            return Authentication(None, "api-token-unknown")
        if found.revoked:
            return Authentication(None, "api-token-revoked", found.token_id)
        if found.expires <= now:
            return Authentication(None, "api-token-expired", found.token_id)
        return Authentication(self.users[found.user], None, found.token_id, found.expires)

    def still_valid(self, credential: str, now: datetime) -> str | None:
        """For a session opened with API token ``credential``: why it no longer holds (revoked, expired,
        removed), or None."""
        entry = next((t for t in self.tokens if t.token_id == credential), None)
        if entry is None:
            return "api-token-unknown"
        if entry.revoked:
            return "api-token-revoked"
        return "api-token-expired" if entry.expires <= now else None

    def user_for_subject(self, subject: object) -> User | None:
        if not isinstance(subject, str):
            return None
        return next((u for u in self.users.values() if u.oidc_subject == subject), None)

    def authorize(
        self, user: User, role: str, phi_type: PhiType, purpose: str, break_glass: bool
    ) -> tuple[str, str | None]:
        """``(outcome, reason)``: ``allowed``, ``allowed-break-glass`` or ``denied-role`` with its reason."""
        grant = self.roles.get(role)
        if grant is None or role not in user.roles:
            return DENIED_ROLE, "role-not-held"
        if break_glass and not grant.break_glass:
            return DENIED_ROLE, "not-break-glass-role"
        if grant.break_glass and not break_glass:
            return DENIED_ROLE, "break-glass-not-declared"
        if purpose not in grant.purposes:
            return DENIED_ROLE, "purpose-not-allowed"
        if phi_type not in grant.phi_types:
            return DENIED_ROLE, "phi-type-not-allowed"
        return (ALLOWED_BREAK_GLASS, "break-glass") if break_glass else (ALLOWED, None)


def match_totp(user: User, code: object, now: datetime) -> tuple[int | None, str | None]:
    """``(time step, None)`` when ``code`` is the user's TOTP for the current 30-second step or one step
    either side (clock skew), else ``(None, reason)``: ``totp-missing`` or ``totp-invalid``. The step is
    what makes a code one-time: :class:`~pipeline.core.access.sessions.TotpSteps` accepts each step once."""
    if not isinstance(code, str) or not code:
        return None, "totp-missing"
    if not re.fullmatch(r"[0-9]{6}", code):
        return None, "totp-invalid"
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now)
    matched = None
    for step in (current - 1, current, current + 1):  # every step compared: timing says nothing of which
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    return (matched, None) if matched is not None else (None, "totp-invalid")


def verify_totp(user: User, code: object, now: datetime) -> str | None:
    """None when ``code`` is one of the user's TOTP codes now (see :func:`match_totp`), else the reason."""
    return match_totp(user, code, now)[1]


def describe_protected(protected: object) -> tuple[str, str | None]:
    """``(kind, key id)`` of a protected value, safe to record: kind is token, ciphertext or unknown."""
    if not isinstance(protected, str):
        return "unknown", None
    kind = "token" if is_token(protected) else "ciphertext" if is_ciphertext(protected) else "unknown"
    key_id = None
    try:
        key_id = parse_token(protected).key_id if kind == "token" else parse_ciphertext(protected).key_id
    except (TokenError, EnvelopeError):
        pass
    return kind, key_id if is_key_id(key_id) else None


def open_protected(
    protected: str,
    phi_type: PhiType,
    tokenizer: Tokenizer,
    encryptor: Encryptor,
    message_id: str | None = None,
    field_path: str | None = None,
) -> tuple[str | None, str | None]:
    """``(value, None)`` for a token or ciphertext that opens as ``phi_type`` in its context, else
    ``(None, reason)``. Ciphertexts need the ``message_id`` and ``field_path`` they were encrypted with."""
    kind, _ = describe_protected(protected)
    try:
        if kind == "token":
            return tokenizer.detokenize(protected, phi_type), None
        if kind == "ciphertext":
            if message_id is None or field_path is None:
                return None, "context-missing"
            return encryptor.decrypt(protected, message_id, field_path, phi_type), None
    except (TokenError, EnvelopeError) as exc:
        return None, exc.reason
    return None, "not-protected"


def safe_name(text: object, pattern: re.Pattern[str] = _SAFE_NAME) -> str | None:
    """Caller-supplied names go into the audit event only if they look like names, not free text."""
    if text is None:
        return None
    return text if isinstance(text, str) and pattern.match(text) else "(invalid)"


def safe_path(text: object) -> str | None:
    return safe_name(text, _SAFE_PATH)


def parse_type(text: object) -> PhiType | None:
    try:
        return parse_phi_type(str(text))
    except UnknownPhiTypeError:
        return None
