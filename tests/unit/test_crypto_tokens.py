"""AES-SIV tokens: round trips, determinism, type binding, tamper detection, rotation."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.crypto.keyring import KeyPurpose, Keyring, RetiredKeyError, UnknownKeyError
from pipeline.core.crypto.tokens import TokenError, Tokenizer, is_token, parse_token
from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType

KEYRING = Keyring.generate()
TOKENIZER = Tokenizer(KEYRING)
TOKEN_RE = re.compile(r"tok:token-v\d+:[A-Za-z0-9_-]+")
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(max_examples=80, deadline=None)
@given(value=st.text(), phi_type=st.sampled_from(list(PhiType)))
def test_round_trip_over_arbitrary_unicode(value, phi_type):
    token = TOKENIZER.tokenize(value, phi_type)
    assert TOKEN_RE.fullmatch(token)
    assert is_token(token)
    assert TOKENIZER.detokenize(token, phi_type) == value


@settings(max_examples=40, deadline=None)
@given(value=st.text(), phi_type=st.sampled_from(list(PhiType)))
def test_determinism_same_value_same_token(value, phi_type):
    assert TOKENIZER.tokenize(value, phi_type) == Tokenizer(KEYRING).tokenize(value, phi_type)


@settings(max_examples=40, deadline=None)
@given(a=st.text(max_size=30), b=st.text(max_size=30))
def test_distinct_values_distinct_tokens(a, b):
    if a != b:
        assert TOKENIZER.tokenize(a, PhiType.NAME) != TOKENIZER.tokenize(b, PhiType.NAME)


def test_type_is_bound():
    token = TOKENIZER.tokenize("123456789", PhiType.SSN)
    assert token != TOKENIZER.tokenize("123456789", PhiType.MRN)
    with pytest.raises(TokenError, match="another PHI type") as info:
        TOKENIZER.detokenize(token, PhiType.MRN)
    assert info.value.reason == "token-invalid"
    assert "123456789" not in str(info.value)


def test_every_byte_flip_of_payload_detected():
    token = TOKENIZER.tokenize("Jane Q. Doe", PhiType.NAME)
    parsed = parse_token(token)
    for i in range(len(parsed.payload)):
        raw = bytearray(parsed.payload)
        raw[i] ^= 0x01
        with pytest.raises(TokenError) as info:
            TOKENIZER.detokenize(f"tok:{parsed.key_id}:{b64url(bytes(raw))}", PhiType.NAME)
        assert info.value.reason == "token-invalid"


def test_every_single_character_edit_of_token_string_detected():
    token = TOKENIZER.tokenize("555-0100", PhiType.PHONE)
    body_start = token.rindex(":") + 1
    for i in range(body_start, len(token)):
        replacement = B64URL[(B64URL.index(token[i]) + 1) % 64]
        edited = token[:i] + replacement + token[i + 1 :]
        with pytest.raises(TokenError) as info:
            TOKENIZER.detokenize(edited, PhiType.PHONE)
        assert info.value.reason in {"token-invalid", "token-malformed"}


def test_truncation_and_extension_detected():
    token = TOKENIZER.tokenize("someone@example.org", PhiType.EMAIL)
    parsed = parse_token(token)
    for payload in (parsed.payload[:-1], parsed.payload + b"\x00", parsed.payload[1:]):
        with pytest.raises(TokenError):
            TOKENIZER.detokenize(f"tok:token-v1:{b64url(payload)}", PhiType.EMAIL)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "tok",
        "tok:token-v1",
        "tok::abc",
        "enc:token-v1:abcdefghijklmnopqrstuv",
        "tok:token-v1:ab=",
        "tok:token-v1:***",
        "tok:token-v1:" + b64url(b"short"),
        "tok:token-v1:a:b",
    ],
)
def test_malformed_tokens(bad):
    with pytest.raises(TokenError) as info:
        TOKENIZER.detokenize(bad, PhiType.NAME)
    assert info.value.reason == "token-malformed"


def test_unknown_and_wrong_purpose_keys():
    body = TOKENIZER.tokenize("x", PhiType.NAME).rsplit(":", 1)[1]
    with pytest.raises(TokenError) as info:
        TOKENIZER.detokenize(f"tok:token-v9:{body}", PhiType.NAME)
    assert info.value.reason == "token-unknown-key" and isinstance(info.value, UnknownKeyError)
    with pytest.raises(TokenError) as info:
        TOKENIZER.detokenize(f"tok:encryption-v1:{body}", PhiType.NAME)
    assert info.value.reason == "token-wrong-key"


def test_rotation_keeps_old_tokens_readable_and_uses_newest_key():
    keyring = Keyring.generate()
    tokenizer = Tokenizer(keyring)
    old = tokenizer.tokenize("MRN 00123", PhiType.MRN)
    keyring.rotate(KeyPurpose.TOKEN)
    new = tokenizer.tokenize("MRN 00123", PhiType.MRN)
    assert old.startswith("tok:token-v1:") and new.startswith("tok:token-v2:")
    assert tokenizer.detokenize(old, PhiType.MRN) == tokenizer.detokenize(new, PhiType.MRN) == "MRN 00123"
    keyring.retire("token-v1")
    with pytest.raises(TokenError, match="retired") as info:
        tokenizer.detokenize(old, PhiType.MRN)
    assert info.value.reason == "token-retired-key" and isinstance(info.value, RetiredKeyError)
    assert tokenizer.detokenize(new, PhiType.MRN) == "MRN 00123"


def test_other_keyring_cannot_detokenize():
    token = Tokenizer(Keyring.generate()).tokenize("secret", PhiType.NAME)
    with pytest.raises(TokenError) as info:
        TOKENIZER.detokenize(token, PhiType.NAME)
    assert info.value.reason == "token-invalid"


def test_no_material_in_repr_or_errors():
    text = repr(TOKENIZER)
    try:
        TOKENIZER.detokenize("tok:token-v1:" + b64url(bytes(40)), PhiType.NAME)
    except TokenError as exc:
        text += str(exc)
    assert issubclass(TokenError, PipelineError)
    for key in KEYRING:
        assert base64.b64encode(key.material).decode() not in text and key.material.hex() not in text
