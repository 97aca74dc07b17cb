"""Verifying OIDC bearer JWTs against a configured issuer, audience and key set (JWKS): pure.

The caller fetches the issuer's JWKS (:mod:`pipeline.interfaces.reveal_server` does, over HTTPS) and
hands it here. Only asymmetric algorithms are accepted (``RS256``, ``ES256``), so a token signed with
the public key as an HMAC secret (the classic algorithm confusion) is refused. Each failure is a
subclass of :class:`JwtRejected` with a stable ``reason``; messages never quote the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from pipeline.core.errors import PipelineError

ALGORITHMS = ("RS256", "ES256")


class JwtRejected(PipelineError):
    reason = "jwt-rejected"


class JwtMalformed(JwtRejected):
    reason = "jwt-malformed"


class JwtBadSignature(JwtRejected):
    reason = "jwt-bad-signature"


class JwtExpired(JwtRejected):
    reason = "jwt-expired"


class JwtWrongIssuer(JwtRejected):
    reason = "jwt-wrong-issuer"


class JwtWrongAudience(JwtRejected):
    reason = "jwt-wrong-audience"


class JwtUnknownKey(JwtBadSignature):
    """The token names a key id the issuer's JWKS does not hold (the caller may refetch once)."""

    reason = "jwt-unknown-key"


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and credential.startswith("eyJ")


def key_id(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise JwtMalformed("bearer credential is not a well-formed JWT") from None
    return kid if isinstance(kid, str) else None


def verify_jwt(
    token: str, jwks: Mapping[str, Any] | jwt.PyJWKSet, issuer: str, audience: str, *, leeway: float = 30
) -> dict[str, Any]:
    """The claims of a JWT signed by a key of ``jwks`` (a JWKS document, or one PyJWT has parsed) for
    ``issuer`` and ``audience``, not expired."""
    kid = key_id(token)
    try:
        keys = jwks if isinstance(jwks, jwt.PyJWKSet) else jwt.PyJWKSet.from_dict(dict(jwks))
    except jwt.PyJWTError:
        raise JwtBadSignature("the issuer's JWKS holds no usable key") from None
    candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
    if not candidates:
        raise JwtUnknownKey("the JWT names a key the issuer's JWKS does not hold")
    options: dict[str, Any] = {"require": ["exp", "iss", "aud", "sub"]}
    last: JwtRejected = JwtBadSignature("the JWT signature does not verify under the issuer's keys")
    for candidate in candidates:
        try:
            return jwt.decode(
                token,
                candidate.key,
                algorithms=list(ALGORITHMS),
                audience=audience,
                issuer=issuer,
                leeway=leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise JwtExpired("the JWT has expired; get a fresh one from the identity provider") from None
        except jwt.InvalidAudienceError:
            raise JwtWrongAudience(f"the JWT is not for this service (audience must be {audience})") from None
        except jwt.InvalidIssuerError:
            raise JwtWrongIssuer("the JWT was not issued by the configured issuer") from None
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            continue
        except jwt.MissingRequiredClaimError as exc:
            raise JwtMalformed(f"the JWT lacks the {exc.claim} claim") from None
        except jwt.PyJWTError:
            last = JwtMalformed("bearer credential is not a well-formed JWT")
    raise last
