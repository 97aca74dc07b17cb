"""Audited reveal: allowed and denied paths, each with an audit event free of the value and API token."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.reveal import (
    ApiTokenEntry,
    RevealPolicy,
    RevealPolicyError,
    hash_api_token,
    new_api_token,
    reveal,
)
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType

KEYRING = Keyring.generate()
TOKENIZER = Tokenizer(KEYRING)
ENCRYPTOR = Encryptor(KEYRING)
ALICE = new_api_token()
BOB = new_api_token()
CAROL = "correct horse battery staple"
SSN = "123-45-6789"
NAME = "Jane Q. Doe"

POLICY_DOC = {
    "roles": {"privacy-officer": ["*"], "care-coordinator": ["NAME", "MRN"], "billing": ["ACCOUNT"]},
    "api_tokens": [
        {"actor": "alice", "roles": ["privacy-officer"], "hash": hash_api_token(ALICE)},
        {"actor": "bob", "roles": ["care-coordinator", "billing"], "hash": hash_api_token(BOB)},
        {"actor": "carol", "roles": ["care-coordinator"], "hash": hash_api_token(CAROL, "scrypt")},
    ],
}
POLICY = RevealPolicy.from_dict(POLICY_DOC)
SSN_TOKEN = TOKENIZER.tokenize(SSN, PhiType.SSN)
NAME_TOKEN = TOKENIZER.tokenize(NAME, PhiType.NAME)
NAME_CT = ENCRYPTOR.encrypt(NAME, "msg-1", "patient.name", PhiType.NAME)
REQUIRED = {"event", "time", "actor", "role", "phi_type", "outcome", "reason", "key_id", "protected_kind"}


def do(protected, phi_type, api_token, role, message_id=None, field_path=None):
    result = reveal(protected, phi_type, api_token, role, POLICY, TOKENIZER, ENCRYPTOR, message_id, field_path)
    event_text = json.dumps(result.audit_event)
    assert REQUIRED <= set(result.audit_event)
    for secret in (SSN, NAME, ALICE, BOB, CAROL, "Jane"):
        assert secret not in event_text, f"audit event leaks {secret!r}"
    for entry in POLICY_DOC["api_tokens"]:
        assert entry["hash"].split(":")[-1] not in event_text
    assert SSN not in repr(result) and NAME not in repr(result)
    return result


def test_allowed_token_reveal():
    result = do(SSN_TOKEN, PhiType.SSN, ALICE, "privacy-officer")
    assert result.allowed and result.value == SSN
    event = result.audit_event
    assert (event["actor"], event["role"], event["phi_type"], event["outcome"]) == (
        "alice",
        "privacy-officer",
        "SSN",
        "allowed",
    )
    assert event["key_id"] == "token-v1" and event["protected_kind"] == "token" and event["reason"] is None


def test_allowed_ciphertext_reveal_needs_its_context():
    result = do(NAME_CT, "NAME", BOB, "care-coordinator", "msg-1", "patient.name")
    assert result.allowed and result.value == NAME
    assert result.audit_event["key_id"] == "encryption-v1"
    assert result.audit_event["message_id"] == "msg-1" and result.audit_event["field_path"] == "patient.name"
    missing = do(NAME_CT, PhiType.NAME, BOB, "care-coordinator")
    assert (missing.allowed, missing.value, missing.audit_event["outcome"]) == (False, None, "invalid")
    assert missing.audit_event["reason"] == "context-missing"
    moved = do(NAME_CT, PhiType.NAME, BOB, "care-coordinator", "msg-2", "patient.name")
    assert moved.audit_event["outcome"] == "invalid" and moved.audit_event["reason"] == "enc-invalid"


def test_scrypt_hashed_token_works():
    result = do(NAME_TOKEN, PhiType.NAME, CAROL, "care-coordinator")
    assert result.allowed and result.value == NAME and result.audit_event["actor"] == "carol"


@pytest.mark.parametrize("api_token", ["", "not-a-token", ALICE + "x", ALICE[:-1], BOB.upper()])
def test_denied_token(api_token):
    result = do(SSN_TOKEN, PhiType.SSN, api_token, "privacy-officer")
    assert not result.allowed and result.value is None
    assert result.audit_event["outcome"] == "denied-token" and result.audit_event["actor"] is None


def test_denied_role_not_held():
    result = do(SSN_TOKEN, PhiType.SSN, BOB, "privacy-officer")
    assert (result.allowed, result.value) == (False, None)
    assert result.audit_event["outcome"] == "denied-role" and result.audit_event["reason"] == "role-not-held"
    assert result.audit_event["actor"] == "bob"


def test_denied_role_type_not_allowed():
    result = do(SSN_TOKEN, PhiType.SSN, BOB, "care-coordinator")
    assert result.audit_event["outcome"] == "denied-role"
    assert result.audit_event["reason"] == "phi-type-not-allowed"
    assert result.value is None


def test_claiming_an_allowed_type_for_another_types_token_is_invalid():
    # Bob may reveal NAME, so he claims the SSN token is a NAME: AES-SIV's associated data refuses.
    result = do(SSN_TOKEN, PhiType.NAME, BOB, "care-coordinator")
    assert (result.allowed, result.value) == (False, None)
    assert result.audit_event["outcome"] == "invalid" and result.audit_event["reason"] == "token-invalid"


@pytest.mark.parametrize(
    ("protected", "reason"),
    [
        ("plain text value", "not-protected"),
        ("tok:token-v1:AAAA", "token-malformed"),
        (SSN_TOKEN[:-1] + ("A" if SSN_TOKEN[-1] != "A" else "Q"), "token-invalid"),
        ("tok:token-v9:" + SSN_TOKEN.split(":")[2], "token-unknown-key"),
    ],
)
def test_invalid_protected_values(protected, reason):
    result = do(protected, PhiType.SSN, ALICE, "privacy-officer")
    assert result.audit_event["outcome"] == "invalid" and result.audit_event["reason"] == reason


def test_retired_key_is_invalid():
    keyring = Keyring.from_json(KEYRING.to_json())
    keyring.rotate(KeyPurpose.TOKEN)
    keyring.retire("token-v1")
    result = reveal(SSN_TOKEN, PhiType.SSN, ALICE, "privacy-officer", POLICY, Tokenizer(keyring), ENCRYPTOR)
    assert result.audit_event["outcome"] == "invalid" and result.audit_event["reason"] == "token-retired-key"


def test_unknown_phi_type_and_free_text_role_are_not_echoed():
    result = do(SSN_TOKEN, "BLOOD_TYPE", ALICE, "privacy-officer")
    assert result.audit_event["outcome"] == "invalid" and result.audit_event["phi_type"] == "(invalid)"
    result = do(SSN_TOKEN, PhiType.SSN, ALICE, "Jane Doe SSN 123-45-6789")
    assert result.audit_event["role"] == "(invalid)" and result.audit_event["outcome"] == "denied-role"


def test_time_is_recorded_in_utc():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    result = reveal(SSN_TOKEN, PhiType.SSN, ALICE, "privacy-officer", POLICY, TOKENIZER, ENCRYPTOR, now=now)
    assert result.audit_event["time"] == "2025-03-01T12:00:00.000Z"


def test_authentication_checks_every_entry(monkeypatch):
    calls = []
    original = ApiTokenEntry.matches

    def counting(self, token, digest):
        calls.append(self.actor)
        return original(self, token, digest)

    monkeypatch.setattr(ApiTokenEntry, "matches", counting)
    assert POLICY.authenticate(ALICE).actor == "alice"
    assert calls == ["alice", "bob", "carol"], "must not stop at the first match"


def test_hash_formats():
    assert hash_api_token("x").startswith("sha256:") and len(hash_api_token("x")) == 7 + 64
    a, b = hash_api_token("x", "scrypt"), hash_api_token("x", "scrypt")
    assert a.startswith("scrypt:16384:8:1:") and a != b, "salted"
    with pytest.raises(ValueError):
        hash_api_token("x", "md5")
    assert "hash" not in repr(POLICY.tokens[0]) or POLICY.tokens[0].hash not in repr(POLICY.tokens[0])


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({}, "roles"),
        ({"roles": {"r": "SSN"}}, "must be a list"),
        ({"roles": {"r": ["BLOOD"]}}, "unknown PHI type"),
        (
            {"roles": {"r": ["SSN"]}, "api_tokens": [{"actor": "a", "roles": ["x"], "hash": hash_api_token("t")}]},
            "not defined",
        ),
        ({"roles": {"r": ["SSN"]}, "api_tokens": [{"actor": "a", "roles": ["r"], "hash": "plaintext"}]}, "hash must"),
        ({"roles": {"r": ["SSN"]}, "api_tokens": [{"roles": ["r"], "hash": hash_api_token("t")}]}, "actor"),
        ({"roles": {"r": ["SSN"]}, "api_tokens": {}}, "must be a list"),
    ],
)
def test_policy_validation(doc, match):
    with pytest.raises(RevealPolicyError, match=match):
        RevealPolicy.from_dict(doc)
    assert issubclass(RevealPolicyError, ConfigError)


def test_policy_load(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY_DOC))
    assert RevealPolicy.load(path).may_reveal("billing", PhiType.ACCOUNT)
    assert not RevealPolicy.load(path).may_reveal("billing", PhiType.SSN)
    with pytest.raises(RevealPolicyError, match="does not exist"):
        RevealPolicy.load(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(RevealPolicyError, match="not readable JSON"):
        RevealPolicy.load(path)
