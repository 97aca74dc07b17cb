"""The reveal service's pure core: access file, API tokens, TOTP, roles and purposes, break-glass,
opening protected values, sessions with idle expiry, the rate limit, and OIDC JWT verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.access.oidc import (
    JwtBadSignature,
    JwtExpired,
    JwtMalformed,
    JwtUnknownKey,
    JwtWrongAudience,
    JwtWrongIssuer,
    verify_jwt,
)
from pipeline.core.access.reveal import (
    ALLOWED,
    ALLOWED_BREAK_GLASS,
    DENIED_ROLE,
    AccessPolicy,
    ApiToken,
    RevealPolicyError,
    describe_protected,
    hash_api_token,
    new_api_token,
    open_protected,
    verify_totp,
)
from pipeline.core.access.sessions import RateLimiter, SessionStore
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType

KEYRING = Keyring.generate()
TOKENIZER = Tokenizer(KEYRING)
ENCRYPTOR = Encryptor(KEYRING)
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = new_api_token(), new_api_token(), "correct horse battery staple"
SECRET = pyotp.random_base32()
SSN, NAME = "123-45-6789", "Jane Q. Doe"

DOC = {
    "roles": {
        "privacy-officer": {"phi_types": ["*"], "purposes": ["operations", "legal"]},
        "care-coordinator": {"phi_types": ["NAME", "MRN"], "purposes": ["treatment"]},
        "er": {"phi_types": ["*"], "purposes": ["emergency"], "break_glass": True},
    },
    "users": [
        {"user": "alice", "roles": ["privacy-officer", "er"], "totp_secret": SECRET, "oidc_subject": "alice@h"},
        {"user": "bob", "roles": ["care-coordinator"], "totp_secret": SECRET},
    ],
    "api_tokens": [
        {"id": "t1", "user": "alice", "hash": hash_api_token(ALICE), "expires": "2026-02-01T00:00:00Z"},
        {"id": "t2", "user": "bob", "hash": hash_api_token(BOB), "expires": "2026-01-01T00:00:00Z"},
        {
            "id": "t3",
            "user": "bob",
            "hash": hash_api_token(CAROL, "scrypt"),
            "expires": "2027-01-01T00:00:00Z",
            "revoked": True,
        },
    ],
}
POLICY = AccessPolicy.from_dict(DOC)


def test_api_tokens_valid_unknown_expired_revoked():
    ok = POLICY.authenticate_api_token(ALICE, NOW)
    assert ok.user.name == "alice" and ok.reason is None and ok.credential == "t1"
    assert POLICY.authenticate_api_token(BOB, NOW).reason == "api-token-expired"
    assert POLICY.authenticate_api_token(CAROL, NOW).reason == "api-token-revoked"  # scrypt-hashed
    for wrong in ("", "x", ALICE + "x", ALICE[:-1], ALICE.upper()):
        found = POLICY.authenticate_api_token(wrong, NOW)
        assert found.user is None and found.reason in ("api-token-unknown", "credential-missing")
    assert POLICY.still_valid("t1", NOW) is None
    assert POLICY.still_valid("t1", datetime(2026, 3, 1, tzinfo=UTC)) == "api-token-expired"
    assert POLICY.still_valid("t3", NOW) == "api-token-revoked" and POLICY.still_valid("t9", NOW) == "api-token-unknown"


def test_authentication_checks_every_entry(monkeypatch):
    calls = []
    original = ApiToken.matches

    def counting(self, token, digest):
        calls.append(self.token_id)
        return original(self, token, digest)

    monkeypatch.setattr(ApiToken, "matches", counting)
    assert POLICY.authenticate_api_token(ALICE, NOW).user.name == "alice"
    assert calls == ["t1", "t2", "t3"], "must not stop at the first match"


def test_roles_types_purposes_and_break_glass():
    alice, bob = POLICY.users["alice"], POLICY.users["bob"]
    assert POLICY.authorize(alice, "privacy-officer", PhiType.SSN, "legal", False) == (ALLOWED, None)
    assert POLICY.authorize(alice, "privacy-officer", PhiType.SSN, "treatment", False) == (
        DENIED_ROLE,
        "purpose-not-allowed",
    )
    assert POLICY.authorize(bob, "care-coordinator", PhiType.SSN, "treatment", False)[1] == "phi-type-not-allowed"
    assert POLICY.authorize(bob, "privacy-officer", PhiType.NAME, "legal", False)[1] == "role-not-held"
    assert POLICY.authorize(bob, "no-such-role", PhiType.NAME, "legal", False)[1] == "role-not-held"
    assert POLICY.authorize(alice, "er", PhiType.SSN, "emergency", True) == (ALLOWED_BREAK_GLASS, "break-glass")
    assert POLICY.authorize(alice, "er", PhiType.SSN, "emergency", False)[1] == "break-glass-not-declared"
    assert POLICY.authorize(bob, "care-coordinator", PhiType.NAME, "treatment", True)[1] == "not-break-glass-role"
    assert POLICY.user_for_subject("alice@h").name == "alice" and POLICY.user_for_subject("x") is None


def test_totp_every_time():
    user = POLICY.users["alice"]
    code = pyotp.TOTP(SECRET).at(NOW)
    assert verify_totp(user, code, NOW) is None
    assert verify_totp(user, pyotp.TOTP(SECRET).at(NOW - timedelta(seconds=30)), NOW) is None  # one step of skew
    assert verify_totp(user, pyotp.TOTP(SECRET).at(NOW - timedelta(seconds=120)), NOW) == "totp-invalid"
    assert verify_totp(user, None, NOW) == "totp-missing" and verify_totp(user, "", NOW) == "totp-missing"
    assert verify_totp(user, "12345a", NOW) == "totp-invalid"
    assert SECRET not in repr(user)


def test_open_protected_tokens_and_ciphertexts():
    token = TOKENIZER.tokenize(SSN, PhiType.SSN)
    ct = ENCRYPTOR.encrypt(NAME, "msg-1", "patient.name", PhiType.NAME)
    assert open_protected(token, PhiType.SSN, TOKENIZER, ENCRYPTOR) == (SSN, None)
    assert open_protected(token, PhiType.NAME, TOKENIZER, ENCRYPTOR) == (None, "token-invalid")
    assert open_protected(ct, PhiType.NAME, TOKENIZER, ENCRYPTOR, "msg-1", "patient.name") == (NAME, None)
    assert open_protected(ct, PhiType.NAME, TOKENIZER, ENCRYPTOR) == (None, "context-missing")
    assert open_protected(ct, PhiType.NAME, TOKENIZER, ENCRYPTOR, "msg-2", "patient.name") == (None, "enc-invalid")
    assert open_protected("plain", PhiType.NAME, TOKENIZER, ENCRYPTOR) == (None, "not-protected")
    assert describe_protected(token) == ("token", "token-v1") and describe_protected(ct) == (
        "ciphertext",
        "encryption-v1",
    )
    assert describe_protected("tok:$(rm -rf):x") == ("token", None)
    retired = Keyring.from_json(KEYRING.to_json())
    retired.rotate(KeyPurpose.TOKEN)
    retired.retire("token-v1")
    assert open_protected(token, PhiType.SSN, Tokenizer(retired), ENCRYPTOR) == (None, "token-retired-key")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.pop("roles"), "roles"),
        (lambda d: d["roles"].update(r=["SSN"]), "phi_types"),
        (lambda d: d["roles"].update(r={"phi_types": ["BLOOD"], "purposes": ["treatment"]}), "unknown PHI type"),
        (lambda d: d["roles"].update(r={"phi_types": ["SSN"], "purposes": ["fun"]}), "purposes"),
        (
            lambda d: d["roles"].update(r={"phi_types": ["SSN"], "purposes": ["legal"], "break_glass": True}),
            "emergency",
        ),
        (lambda d: d["users"][0].update(roles=["nope"]), "not defined"),
        (lambda d: d["users"][0].update(totp_secret="short"), "totp_secret"),
        (lambda d: d["api_tokens"][0].update(hash="plaintext"), "hash must"),
        (lambda d: d["api_tokens"][0].pop("expires"), "expire"),
        (lambda d: d["api_tokens"][0].update(user="mallory"), "users"),
        (lambda d: d["api_tokens"][1].update(id="t1"), "unique"),
    ],
)
def test_access_file_validation(change, match):
    doc = json.loads(json.dumps(DOC))
    change(doc)
    with pytest.raises(RevealPolicyError, match=match):
        AccessPolicy.from_dict(doc)
    assert issubclass(RevealPolicyError, ConfigError)


def test_access_file_round_trip_and_load(tmp_path):
    path = tmp_path / "access.json"
    path.write_text(json.dumps(POLICY.to_dict()))
    again = AccessPolicy.load(path)
    assert again.to_dict() == POLICY.to_dict()
    assert again.authenticate_api_token(ALICE, NOW).user.name == "alice"
    with pytest.raises(RevealPolicyError, match="does not exist"):
        AccessPolicy.load(tmp_path / "missing.json")


def test_sessions_idle_expiry_max_age_and_credential_expiry():
    clock = [1000.0]
    store = SessionStore(idle_timeout=60, max_age=300, clock=lambda: clock[0])
    token = store.open("alice", "api-token", "t1")
    assert token not in repr(store.__dict__), "only the session token's hash is kept"
    for _ in range(4):  # used every 59 s: stays alive
        clock[0] += 59
        assert store.touch(token)[0].user == "alice"
    clock[0] += 61
    assert store.touch(token) == (None, "session-idle-expired")
    assert store.touch(token) == (None, "session-unknown")
    old = store.open("alice", "api-token", "t1")
    for _ in range(5):
        clock[0] += 55
        assert store.touch(old)[0] is not None
    clock[0] += 55
    assert store.touch(old)[1] == "session-too-old"
    jwt_session = store.open("dave", "oidc", "oidc", credential_expires=clock[0] + 10)
    clock[0] += 11
    assert store.touch(jwt_session)[1] == "credential-expired"
    assert store.touch(None)[1] == "session-missing"
    a, b = store.open("bob", "api-token", "t2"), store.open("bob", "api-token", "t2")
    assert store.close_user_credential("t2") == 2 and store.touch(a)[0] is None and store.touch(b)[0] is None
    c = store.open("bob", "api-token", "t2")
    assert store.close(c) and not store.close(c)


@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=60), st.integers(1, 10))
def test_rate_limit_never_allows_more_than_limit_per_window(gaps, limit):
    clock = [0.0]
    limiter = RateLimiter(limit, window=60, clock=lambda: clock[0])
    allowed: list[float] = []
    for gap in gaps:
        clock[0] += gap
        if limiter.allow("u"):
            allowed.append(clock[0])
    for i, t in enumerate(allowed):
        assert sum(1 for u in allowed[i:] if u - t < 60) <= limit
    assert limiter.allow("someone-else")


class Issuer:
    def __init__(self, private_key, kid="k1"):
        self.key = private_key
        jwk = jwt.PyJWK.from_json(jwt.algorithms.get_default_algorithms()[self.alg].to_jwk(private_key.public_key()))
        self.jwks = {"keys": [{**jwk._jwk_data, "kid": kid, "use": "sig", "alg": self.alg}]}
        self.kid = kid

    @property
    def alg(self):
        return "ES256" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "RS256"

    def token(self, **claims):
        now = int(time.time())
        body = {"iss": "https://idp/realm", "aud": "phi-reveal", "sub": "alice@h", "iat": now, "exp": now + 60}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm=self.alg, headers={"kid": claims.pop("kid", self.kid)})


@pytest.mark.parametrize(
    "key", [rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())]
)
def test_jwt_verification(key):
    issuer = Issuer(key)
    args = (issuer.jwks, "https://idp/realm", "phi-reveal")
    assert verify_jwt(issuer.token(), *args)["sub"] == "alice@h"
    with pytest.raises(JwtWrongIssuer):
        verify_jwt(issuer.token(iss="https://evil/realm"), *args)
    with pytest.raises(JwtWrongAudience):
        verify_jwt(issuer.token(aud="other"), *args)
    with pytest.raises(JwtExpired):
        verify_jwt(issuer.token(exp=int(time.time()) - 120), *args)
    other = ec.generate_private_key(ec.SECP256R1()) if issuer.alg == "ES256" else rsa.generate_private_key(65537, 2048)
    forger = Issuer(other)
    with pytest.raises(JwtBadSignature):
        verify_jwt(forger.token(), *args)
    with pytest.raises(JwtUnknownKey):
        verify_jwt(Issuer(key, kid="k9").token(), *args)
    with pytest.raises(JwtMalformed):
        verify_jwt("eyJhbGciOi.not.jwt", *args)
    without_sub = issuer.token()
    claims = jwt.decode(without_sub, options={"verify_signature": False})
    claims.pop("sub")
    with pytest.raises(JwtMalformed, match="sub"):
        verify_jwt(jwt.encode(claims, key, algorithm=issuer.alg, headers={"kid": "k1"}), *args)


def test_jwt_hmac_with_the_public_key_is_refused():
    """Algorithm confusion: HS256 signed with the issuer's public key as the secret must not verify."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = Issuer(key)
    now = int(time.time())
    body = {"iss": "https://idp/realm", "aud": "phi-reveal", "sub": "alice@h", "exp": now + 60}
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{b64(json.dumps(body).encode())}"
    forged = f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
    with pytest.raises((JwtBadSignature, JwtMalformed)):
        verify_jwt(forged, issuer.jwks, "https://idp/realm", "phi-reveal")
