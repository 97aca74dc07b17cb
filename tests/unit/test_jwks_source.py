"""The reveal service's JWKS cache (PyJWT's PyJWKClient): cached, rotated keys picked up after the cooldown,
forged key ids never flood the issuer, redirects and unreachable issuers refused."""

from __future__ import annotations

import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.core.access.oidc import JwtUnknownKey, verify_jwt
from pipeline.interfaces.reveal_server import JwksSource

ISSUER, AUDIENCE = "https://idp/realm", "phi-reveal"


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


def token(key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@h", "iat": now, "exp": now + 60}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


class Issuer:
    """A JWKS endpoint on loopback that counts its fetches; ``/moved`` redirects to ``/jwks.json``."""

    def __init__(self) -> None:
        self.document: dict = {"keys": []}
        self.fetches: dict[str, int] = {}
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.fetches[self.path] = issuer.fetches.get(self.path, 0) + 1
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/jwks.json")
                    self.end_headers()
                    return
                body = json.dumps(issuer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer():
    served = Issuer()
    yield served
    served.close()


def verify(source: JwksSource, credential: str) -> dict:
    """What the reveal service does: the cached set, then one cooldown-bound refetch on an unknown key id."""
    try:
        return verify_jwt(credential, source.get(), ISSUER, AUDIENCE)
    except JwtUnknownKey:
        return verify_jwt(credential, source.refresh_for(credential), ISSUER, AUDIENCE)


def test_keys_are_cached_and_a_rotated_key_is_fetched_once_the_cooldown_has_passed(issuer):
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    issuer.document = {"keys": [public_jwk(old, "k1")]}
    source = JwksSource(issuer.base + "/jwks.json", None, ttl=300, refresh_after=0.5)
    for _ in range(5):
        assert verify(source, token(old, "k1"))["sub"] == "alice@h"
    assert issuer.fetches == {"/jwks.json": 1}

    issuer.document = {"keys": [public_jwk(old, "k1"), public_jwk(new, "k2")]}
    with pytest.raises(JwtUnknownKey):  # inside the cooldown: no refetch yet
        verify(source, token(new, "k2"))
    assert issuer.fetches == {"/jwks.json": 1}
    time.sleep(0.6)
    assert verify(source, token(new, "k2"))["sub"] == "alice@h"
    assert issuer.fetches == {"/jwks.json": 2}


def test_a_flood_of_forged_key_ids_costs_the_issuer_at_most_one_fetch(issuer):
    key = ec.generate_private_key(ec.SECP256R1())
    issuer.document = {"keys": [public_jwk(key, "k1")]}
    source = JwksSource(issuer.base + "/jwks.json", None, ttl=300, refresh_after=60)
    source.get()
    for i in range(50):
        with pytest.raises(JwtUnknownKey):
            verify(source, token(key, f"forged-{i}"))
    assert issuer.fetches == {"/jwks.json": 1}


def test_a_redirect_is_not_followed_and_an_unreachable_issuer_is_an_os_error(issuer):
    with pytest.raises(OSError):
        JwksSource(issuer.base + "/moved", None).get()
    assert issuer.fetches == {"/moved": 1}  # nothing beyond the configured address was asked
    issuer.close()
    with pytest.raises(OSError):
        JwksSource(issuer.base + "/jwks.json", None).get()
