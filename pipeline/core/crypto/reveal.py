"""Audited reveal: who may turn a token or ciphertext back into the value, and a record of every try.

Why: HIPAA's access-control and audit safeguards. Revealing needs an API token (authentication) and a
role that the token's holder has and that the policy allows for the PHI type (authorization). Every
attempt, allowed or denied, yields an audit event naming actor, role, PHI type, outcome and the
protected value's key id, never the value and never the API token.

Policy file (JSON)::

    {
      "roles": {
        "privacy-officer": ["*"],
        "care-coordinator": ["NAME", "MRN", "PHONE"]
      },
      "api_tokens": [
        {"actor": "alice", "roles": ["privacy-officer"], "hash": "sha256:<64 hex>"},
        {"actor": "bob", "roles": ["care-coordinator"],
         "hash": "scrypt:<n>:<r>:<p>:<salt base64>:<hash base64>"}
      ]
    }

``"*"`` allows every PHI type. API tokens are stored only as hashes made by :func:`hash_api_token`:
``sha256`` suits the high-entropy tokens :func:`new_api_token` makes; ``scrypt`` suits anything a human
chose. Every entry is compared with :func:`hmac.compare_digest` and the loop never stops early, so the
time taken does not depend on which entry (if any) matched.

Outcomes in the audit event: ``allowed``, ``denied-token`` (no valid API token), ``denied-role`` (the
actor lacks the role, or the role may not reveal this PHI type), ``invalid`` (the protected value is
malformed, altered, under an unknown or retired key, or of another PHI type; ``reason`` says which).
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.core.crypto.envelope import Encryptor, EnvelopeError, is_ciphertext, parse_ciphertext
from pipeline.core.crypto.keyring import is_key_id
from pipeline.core.crypto.tokens import TokenError, Tokenizer, is_token, parse_token
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError, parse_phi_type

ALL_TYPES = "*"
ALLOWED = "allowed"
DENIED_TOKEN = "denied-token"  # noqa: S105 (an outcome code)
DENIED_ROLE = "denied-role"
INVALID = "invalid"

_SCRYPT_DEFAULTS = (2**14, 8, 1)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._@:/+-]{1,128}$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._@:/+\[\]-]{1,200}$")


class RevealPolicyError(ConfigError):
    """The role policy file is missing or malformed; the message says what to fix."""


def new_api_token() -> str:
    """A fresh 256-bit API token to hand to a person once (store only :func:`hash_api_token` of it)."""
    return secrets.token_urlsafe(32)


def hash_api_token(token: str, scheme: str = "sha256") -> str:
    """The string to put in the policy's ``hash`` field: ``sha256:<hex>`` or ``scrypt:n:r:p:salt:hash``."""
    if scheme == "sha256":
        return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
    if scheme == "scrypt":
        n, r, p = _SCRYPT_DEFAULTS
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(token.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
        b64 = base64.b64encode
        return f"scrypt:{n}:{r}:{p}:{b64(salt).decode()}:{b64(digest).decode()}"
    raise ValueError("scheme must be 'sha256' or 'scrypt'")


@dataclass(frozen=True, slots=True)
class ApiTokenEntry:
    """One API token holder. ``hash`` is kept out of repr all the same."""

    actor: str
    roles: frozenset[str]
    hash: str = field(repr=False)

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


@dataclass(frozen=True, slots=True)
class RevealPolicy:
    """Roles to allowed PHI types, and the hashed API tokens with their actors and roles."""

    roles: Mapping[str, frozenset[PhiType]]
    tokens: tuple[ApiTokenEntry, ...]

    @classmethod
    def from_dict(cls, data: object) -> RevealPolicy:
        if not isinstance(data, Mapping) or not isinstance(data.get("roles"), Mapping):
            raise RevealPolicyError('reveal policy must be a JSON object with a "roles" object')
        roles: dict[str, frozenset[PhiType]] = {}
        for role, types in data["roles"].items():
            if not isinstance(types, list):
                raise RevealPolicyError(f'role {role!r}: allowed PHI types must be a list (or ["*"])')
            if ALL_TYPES in types:
                roles[role] = frozenset(PhiType)
                continue
            try:
                roles[role] = frozenset(parse_phi_type(str(t)) for t in types)
            except UnknownPhiTypeError as exc:
                raise RevealPolicyError(f"role {role!r}: {exc}") from None
        entries = data.get("api_tokens", [])
        if not isinstance(entries, list):
            raise RevealPolicyError('"api_tokens" must be a list')
        tokens = []
        for i, entry in enumerate(entries):
            where = f"api_tokens[{i}]"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("actor"), str) or not entry["actor"]:
                raise RevealPolicyError(f'{where}: needs an "actor" name')
            held = entry.get("roles")
            if not isinstance(held, list) or not all(isinstance(r, str) for r in held):
                raise RevealPolicyError(f'{where}: "roles" must be a list of role names')
            unknown = sorted(set(held) - set(roles))
            if unknown:
                raise RevealPolicyError(f'{where}: role(s) {", ".join(unknown)} are not defined under "roles"')
            tokens.append(ApiTokenEntry(entry["actor"], frozenset(held), _validate_hash(where, entry.get("hash"))))
        return cls(roles=roles, tokens=tuple(tokens))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RevealPolicy:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RevealPolicyError(f"reveal policy file {p} does not exist") from None
        except (OSError, ValueError) as exc:
            raise RevealPolicyError(f"reveal policy file {p} is not readable JSON ({type(exc).__name__})") from None
        return cls.from_dict(data)

    def authenticate(self, api_token: str) -> ApiTokenEntry | None:
        """The entry whose hash matches, checking every entry so timing reveals nothing."""
        if not isinstance(api_token, str) or not api_token:
            return None
        raw = api_token.encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(raw).digest()
        found = None
        for entry in self.tokens:
            if entry.matches(raw, digest) and found is None:
                found = entry
        return found

    def may_reveal(self, role: str, phi_type: PhiType) -> bool:
        return phi_type in self.roles.get(role, frozenset())


@dataclass(frozen=True, slots=True)
class RevealResult:
    """The outcome. ``value`` (the revealed PHI, or None) is kept out of repr so it is never logged by
    accident; ``audit_event`` is safe to publish."""

    allowed: bool
    value: str | None = field(repr=False)
    audit_event: dict[str, Any]


def _safe(text: object, pattern: re.Pattern[str] = _SAFE_NAME) -> str | None:
    """Caller-supplied names go into the audit event only if they look like names, not free text."""
    if text is None:
        return None
    return text if isinstance(text, str) and pattern.match(text) else "(invalid)"


def reveal(
    protected: str,
    phi_type: PhiType | str,
    api_token: str,
    role: str,
    policy: RevealPolicy,
    tokenizer: Tokenizer,
    encryptor: Encryptor,
    message_id: str | None = None,
    field_path: str | None = None,
    *,
    now: datetime | None = None,
) -> RevealResult:
    """Reveal a ``tok:`` token or ``enc:`` ciphertext if the API token and role allow it.

    Checks run in this order so an unauthenticated caller learns nothing about the value: API token,
    then role, then the cryptography. Ciphertexts need the ``message_id`` and ``field_path`` they were
    encrypted with.
    """
    kind = "token" if is_token(protected) else "ciphertext" if is_ciphertext(protected) else "unknown"
    key_id = None
    try:
        key_id = parse_token(protected).key_id if kind == "token" else parse_ciphertext(protected).key_id
    except (TokenError, EnvelopeError):
        pass  # reported as invalid below, once the caller is authorized
    try:
        ptype: PhiType | None = parse_phi_type(str(phi_type))
    except UnknownPhiTypeError:
        ptype = None
    entry = policy.authenticate(api_token)
    event: dict[str, Any] = {
        "event": "reveal",
        "time": (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": entry.actor if entry else None,
        "role": _safe(role),
        "phi_type": ptype.value if ptype else "(invalid)",
        "protected_kind": kind,
        "key_id": key_id if is_key_id(key_id) else None,
        "message_id": _safe(message_id),
        "field_path": _safe(field_path, _SAFE_PATH),
    }

    def result(outcome: str, reason: str | None, value: str | None = None) -> RevealResult:
        event["outcome"], event["reason"] = outcome, reason
        return RevealResult(allowed=outcome == ALLOWED, value=value, audit_event=event)

    if entry is None:
        return result(DENIED_TOKEN, "api-token-unknown")
    if role not in entry.roles:
        return result(DENIED_ROLE, "role-not-held")
    if ptype is None:
        return result(INVALID, "phi-type-unknown")
    if not policy.may_reveal(role, ptype):
        return result(DENIED_ROLE, "phi-type-not-allowed")
    try:
        if kind == "token":
            return result(ALLOWED, None, tokenizer.detokenize(protected, ptype))
        if kind == "ciphertext":
            if message_id is None or field_path is None:
                return result(INVALID, "context-missing")
            return result(ALLOWED, None, encryptor.decrypt(protected, message_id, field_path, ptype))
    except (TokenError, EnvelopeError) as exc:
        return result(INVALID, exc.reason)
    return result(INVALID, "not-protected")
