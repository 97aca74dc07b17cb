"""The reveal service (issue 16) run for real: ``phi-pipeline reveal-server`` over HTTPS, its keys unwrapped
through a real OpenBao dev server with the reveal AppRole, OIDC JWTs from a JWKS issuer of the test's own on
loopback, audit events on the embedded broker; every request made with a real HTTP client (requests).

Each attempt in the negative matrix gets its status code and exactly one audit event (the audit topic is
compared, in chain order, with the list of attempts); the allowed ones return the value; no value,
token, TOTP code or secret appears in the service's log, its metrics or the audit events.
"""

from __future__ import annotations

import http.server
import json
import re
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.core.access.reveal import hash_api_token, new_api_token
from pipeline.core.crypto.audit_chain import verify_chain
from pipeline.core.crypto.custody import wrap_keyring
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.phi_types import PhiType
from pipeline.interfaces.cli import main as cli_main
from pipeline.interfaces.embedded_broker import free_port
from pipeline.stream.clients import decode_output
from pipeline.stream.reading import read_to_end
from tests.e2e.certs import TestPki
from tests.e2e.cli import run_cli
from tests.e2e.helpers import start_reveal_server
from tests.openbao_server import kms_settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]

MRN, SSN, PLAN = "7767936", "847-73-2029", "HP-55120-77"
ISSUER_PATH = "/realms/hospital"
AUDIENCE = "phi-reveal"
IDLE = 10.0
RATE = 8


class Jwks:
    """An OIDC issuer's JWKS served over HTTPS on loopback, with keys this test generates."""

    def __init__(self, pki: TestPki) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
        cert, key = pki.issue("jwks", server=True)
        document = self.document

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.base + ISSUER_PATH
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

        self.issued: list[str] = []

    def token(self, sub="dave@hospital.example", *, iss=None, aud=AUDIENCE, exp_in=300, key=None):
        claims = {"sub": sub, "iss": iss or self.issuer, "aud": aud, "iat": int(time.time()),
                  "exp": int(time.time()) + exp_in}  # fmt: skip
        self.issued.append(jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "k1"}))
        return self.issued[-1]


def access_document(tokens, secrets):
    now = datetime.now(UTC)
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    later, past = iso(now + timedelta(days=1)), iso(now - timedelta(minutes=1))
    return {
        "roles": {
            "privacy-officer": {"phi_types": ["*"], "purposes": ["operations", "legal"]},
            "billing": {"phi_types": ["HEALTH_PLAN"], "purposes": ["payment"]},
            "emergency-physician": {"phi_types": ["*"], "purposes": ["emergency"], "break_glass": True},
            "care-coordinator": {"phi_types": ["MRN", "NAME"], "purposes": ["treatment"]},
        },
        "users": [
            {"user": "alice", "roles": ["privacy-officer"], "totp_secret": secrets["alice"]},
            {"user": "bob", "roles": ["billing"], "totp_secret": secrets["bob"]},
            {"user": "carol", "roles": ["care-coordinator"], "totp_secret": secrets["carol"]},
            {"user": "erin", "roles": ["emergency-physician"], "totp_secret": secrets["erin"]},
            {"user": "rita", "roles": ["care-coordinator"], "totp_secret": secrets["rita"]},
            {"user": "gina", "roles": ["care-coordinator"], "totp_secret": secrets["gina"]},
            {
                "user": "hank",
                "roles": ["care-coordinator"],
                "totp_secret": secrets["hank"],
                "oidc_subject": "hank@hospital.example",
            },
            {
                "user": "dave",
                "roles": ["care-coordinator"],
                "totp_secret": secrets["dave"],
                "oidc_subject": "dave@hospital.example",
            },
        ],
        "api_tokens": [
            {"id": "t-alice", "user": "alice", "hash": hash_api_token(tokens["alice"]), "expires": later},
            {"id": "t-alice-old", "user": "alice", "hash": hash_api_token(tokens["expired"]), "expires": past},
            {
                "id": "t-alice-lost",
                "user": "alice",
                "hash": hash_api_token(tokens["revoked"]),
                "expires": later,
                "revoked": True,
            },
            {"id": "t-bob", "user": "bob", "hash": hash_api_token(tokens["bob"], "scrypt"), "expires": later},
            {"id": "t-carol", "user": "carol", "hash": hash_api_token(tokens["carol"]), "expires": later},
            {"id": "t-erin", "user": "erin", "hash": hash_api_token(tokens["erin"]), "expires": later},
            {"id": "t-rita", "user": "rita", "hash": hash_api_token(tokens["rita"]), "expires": later},
            {"id": "t-gina", "user": "gina", "hash": hash_api_token(tokens["gina"]), "expires": later},
        ],
    }


def test_reveal_service_negative_matrix_allowed_reveals_and_audit(topic_settings, registry, custody, tmp_path):
    keyring = Keyring.generate()
    wrapped = tmp_path / "keyring.wrapped.json"
    wrap_keyring(keyring, custody["admin"], key_prefix=custody["prefix"]).save(wrapped)
    pki = TestPki(tmp_path)
    cert, key = pki.issue("reveal", server=True)
    issuer = Jwks(pki)
    users = ("alice", "bob", "carol", "erin", "rita", "dave", "gina", "hank")
    secrets = {u: pyotp.random_base32() for u in users}
    tokens = {u: new_api_token() for u in (*users, "expired", "revoked")}
    access = tmp_path / "access.json"
    access.write_text(json.dumps(access_document(tokens, secrets)))
    access.chmod(0o600)
    port, metrics_port = free_port(), free_port()
    settings = kms_settings(topic_settings, custody, "reveal", wrapped).with_overrides(
        reveal_port=port, reveal_tls_certfile=cert, reveal_tls_keyfile=key, reveal_access_file=access,
        reveal_oidc_issuer=issuer.issuer, reveal_oidc_jwks_url=issuer.base + "/jwks.json",
        reveal_oidc_cafile=pki.ca, reveal_oidc_audience=AUDIENCE, reveal_rate_limit=RATE,
        reveal_idle_timeout=IDLE, metrics_port=metrics_port, worker_id="reveal-test",
    )  # fmt: skip
    log_path = tmp_path / "reveal.log"
    server = start_reveal_server(settings, log_path)
    base = f"https://127.0.0.1:{port}"
    http = requests.Session()
    http.verify = str(pki.ca)
    http.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace the CA
    mrn = Tokenizer(keyring).tokenize(MRN, PhiType.MRN)
    plan = Tokenizer(keyring).tokenize(PLAN, PhiType.HEALTH_PLAN)
    ssn = Encryptor(keyring).encrypt(SSN, "msg-1", "ssn", PhiType.SSN)
    expected: list[tuple[str, str, str | None, str | None]] = []  # (endpoint, outcome, reason, actor)
    codes: list[str] = []

    def totp(user):
        code = pyotp.TOTP(secrets[user]).now()
        codes.append(code)
        return code

    def login(credential, code, status, outcome, reason, actor):
        headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
        if code is not None:
            headers["X-TOTP"] = code
        r = http.post(base + "/v1/sessions", headers=headers, json={})
        assert (r.status_code, r.json().get("outcome"), r.json().get("reason")) == (status, outcome, reason), r.text
        expected.append(("session", outcome, reason, actor))
        return r.json().get("session")

    def reveal(session, code, body, status, outcome, reason, actor):
        headers = {"X-TOTP": code} if code else {}
        if session:
            headers["Authorization"] = f"Bearer {session}"
        r = http.post(base + "/v1/reveal", headers=headers, json=body)
        assert (r.status_code, r.json().get("outcome"), r.json().get("reason")) == (status, outcome, reason), r.text
        expected.append(("reveal", outcome, reason, actor))
        return r.json().get("value")

    try:
        assert "wrapped by OpenBao transit" in log_path.read_text()
        spec = http.get(base + "/openapi.json").json()
        with open("pipeline/interfaces/reveal_openapi.json") as checked_in:
            assert spec == json.load(checked_in)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base + "/healthz", timeout=5)  # not trusted without the CA: HTTPS for real
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)

        deny = ("denied-auth", 401)
        mrn_body = {"protected": mrn, "phi_type": "MRN", "purpose": "operations"}
        # Credentials at login.
        login(None, totp("alice"), deny[1], deny[0], "credential-missing", None)
        login("not-a-token", totp("alice"), deny[1], deny[0], "api-token-unknown", None)
        login(tokens["expired"], totp("alice"), deny[1], deny[0], "api-token-expired", None)
        login(tokens["revoked"], totp("alice"), deny[1], deny[0], "api-token-revoked", None)
        login(
            issuer.token(iss="https://evil.example/realms/x"),
            totp("dave"),
            401,
            "denied-auth",
            "jwt-wrong-issuer",
            None,
        )
        login(issuer.token(aud="another-app"), totp("dave"), 401, "denied-auth", "jwt-wrong-audience", None)
        login(issuer.token(key=issuer.other), totp("dave"), 401, "denied-auth", "jwt-bad-signature", None)
        login(issuer.token(exp_in=-120), totp("dave"), 401, "denied-auth", "jwt-expired", None)
        # Second factor at login.
        login(tokens["carol"], None, 401, "denied-mfa", "totp-missing", "carol")
        wrong = f"{(int(pyotp.TOTP(secrets['carol']).now()) + 500000) % 1000000:06d}"
        login(tokens["carol"], wrong, 401, "denied-mfa", "totp-invalid", "carol")
        # No session, and a session without TOTP.
        reveal(None, totp("alice"), mrn_body, 401, "denied-auth", "session-missing", None)
        alice_code = totp("alice")
        alice = login(tokens["alice"], alice_code, 201, "allowed", None, "alice")
        # A code opens one session: the same code again is refused (RFC 6238 section 5.2).
        login(tokens["alice"], alice_code, 401, "denied-mfa", "totp-replayed", "alice")
        reveal(alice, None, mrn_body, 401, "denied-mfa", "totp-missing", "alice")
        # Allowed: a token and a ciphertext in its context; a ciphertext out of context is invalid.
        assert reveal(alice, totp("alice"), mrn_body, 200, "allowed", None, "alice") == MRN
        ssn_body = {"protected": ssn, "phi_type": "SSN", "purpose": "legal", "message_id": "msg-1", "field_path": "ssn"}
        assert reveal(alice, totp("alice"), ssn_body, 200, "allowed", None, "alice") == SSN
        moved = {**ssn_body, "message_id": "msg-2"}
        reveal(alice, totp("alice"), moved, 422, "invalid", "enc-invalid", "alice")
        # Revoking alice's token ends her live session at its next request.
        # (in this process: a child's start can outlast the idle timeout on a loaded machine)
        assert cli_main(["reveal-tokens", "revoke", "--access-file", str(access), "--id", "t-alice"]) == 0
        reveal(alice, totp("alice"), mrn_body, 401, "denied-auth", "api-token-revoked", "alice")
        # Roles: PHI type and purpose.
        bob = login(tokens["bob"], totp("bob"), 201, "allowed", None, "bob")
        reveal(bob, totp("bob"), {**mrn_body, "purpose": "payment"}, 403, "denied-role", "phi-type-not-allowed", "bob")
        plan_body = {"protected": plan, "phi_type": "HEALTH_PLAN", "purpose": "treatment"}
        reveal(bob, totp("bob"), plan_body, 403, "denied-role", "purpose-not-allowed", "bob")
        assert reveal(bob, totp("bob"), {**plan_body, "purpose": "payment"}, 200, "allowed", None, "bob") == PLAN
        reveal(bob, totp("bob"), {**plan_body, "purpose": "emergency", "break_glass": True}, 403, "denied-role",
               "not-break-glass-role", "bob")  # fmt: skip
        # Break-glass works, and says so loudly.
        erin = login(tokens["erin"], totp("erin"), 201, "allowed", None, "erin")
        glass = {"protected": ssn, "phi_type": "SSN", "purpose": "emergency", "message_id": "msg-1",
                 "field_path": "ssn", "break_glass": True}  # fmt: skip
        assert reveal(erin, totp("erin"), glass, 200, "allowed-break-glass", "break-glass", "erin") == SSN
        # OIDC: a good JWT from the configured issuer.
        dave = login(issuer.token(), totp("dave"), 201, "allowed", None, "dave")
        assert reveal(dave, totp("dave"), {**mrn_body, "purpose": "treatment"}, 200, "allowed", None, "dave") == MRN
        # Rate limit: rita's login and five reveals pass, the seventh attempt in the minute does not.
        rita = login(tokens["rita"], totp("rita"), 201, "allowed", None, "rita")
        for _ in range(RATE - 1):
            reveal(rita, totp("rita"), {**mrn_body, "purpose": "treatment"}, 200, "allowed", None, "rita")
        reveal(rita, totp("rita"), {**mrn_body, "purpose": "treatment"}, 429, "denied-rate-limit", "rate-limit", "rita")
        # Idle sessions expire.
        carol = login(tokens["carol"], totp("carol"), 201, "allowed", None, "carol")
        time.sleep(IDLE + 1)
        carol_body = {**mrn_body, "purpose": "treatment"}
        reveal(carol, totp("carol"), carol_body, 401, "denied-auth", "session-idle-expired", None)

        # The command-line client: login, reveal, logout (three audit events).
        # (one user each: a TOTP step opens one session only, and dave's opened one above)
        client = run_cli(
            settings.with_overrides(reveal_url=base, reveal_cafile=pki.ca),
            "reveal", mrn, "--type", "MRN", "--purpose", "treatment", "--totp", totp("gina"),
            stdin=tokens["gina"] + "\n",
        )  # fmt: skip
        assert client.returncode == 0 and client.stdout.strip() == MRN, client.stderr
        expected += [("session", "allowed", None, "gina"), ("reveal", "allowed", None, "gina"),
                     ("logout", "allowed", None, "gina")]  # fmt: skip
        refused = run_cli(
            settings.with_overrides(reveal_url=base, reveal_cafile=pki.ca),
            "reveal", ssn, "--type", "SSN", "--purpose", "treatment", "--totp", totp("hank"),
            "--message-id", "msg-1", "--field", "ssn", stdin=issuer.token("hank@hospital.example") + "\n",
        )  # fmt: skip
        assert refused.returncode == 3 and SSN not in refused.stdout + refused.stderr
        expected += [("session", "allowed", None, "hank"), ("reveal", "denied-role", "phi-type-not-allowed", "hank"),
                     ("logout", "allowed", None, "hank")]  # fmt: skip

        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    finally:
        server.terminate()
        server.wait(30)

    # One audit event per attempt, in order, on one verifiable chain.
    read = asyncio_run_read(settings)
    events = [decode_output(registry, m) for m in read]
    reveals = sorted((e for e in events if e["event_type"] == "reveal"), key=lambda e: e["seq"])
    got = [(e["details"].get("endpoint"), e["outcome"], e["reason"], e["actor"]) for e in reveals]
    want = [(ep, out, why, actor or "(unauthenticated)") for ep, out, why, actor in expected]
    assert got == want
    assert verify_chain(reveals, keyring).ok
    glass_event = next(e for e in reveals if e["outcome"] == "allowed-break-glass")
    assert glass_event["details"]["purpose"] == "emergency" and glass_event["details"]["role"] == "emergency-physician"

    # Metrics by role and outcome (what PhiRevealSpike and PhiRevealBreakGlass read).
    assert re.search(r'phi_reveals_total\{outcome="allowed-break-glass",role="emergency-physician"\} 1\.0', metrics)
    assert re.search(r'phi_reveals_total\{outcome="denied-rate-limit",role="care-coordinator"\} 1\.0', metrics)
    assert re.search(r'phi_reveals_total\{outcome="allowed",role="privacy-officer"\} 2\.0', metrics)
    assert re.search(r'phi_reveal_sessions_total\{outcome="denied-auth"\} 8\.0', metrics)
    assert re.search(r'phi_reveal_sessions_total\{outcome="denied-mfa"\} 3\.0', metrics)

    # Nothing secret anywhere it could leak.
    log_text = log_path.read_text()
    assert "BREAK-GLASS reveal" in log_text
    audit_text = json.dumps(events)
    secrets_seen = [MRN, SSN, PLAN, mrn, ssn, plan, *tokens.values(), *secrets.values(), alice, bob, erin, dave,
                    rita, carol, *(t.split(".")[2][:24] for t in issuer.issued)]  # fmt: skip
    for place, text in (("log", log_text), ("metrics", metrics), ("audit", audit_text)):
        for secret in secrets_seen:
            assert secret not in text, f"a secret or value leaked into the {place}"
        for code in codes:  # six digits: as a whole word only (hashes and times hold digit runs)
            assert not re.search(rf"(?<![0-9A-Za-z+/]){code}(?![0-9A-Za-z+/=])", text), f"a TOTP code in the {place}"


def asyncio_run_read(settings):
    import asyncio

    read = asyncio.run(read_to_end(settings, [settings.topic_audit], timeout=30, idle_timeout=3.0))
    return read.messages
