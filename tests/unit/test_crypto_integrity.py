"""HMAC signing: canonical bytes, every tamper detected, reason codes, rotation, header helpers."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.crypto import integrity
from pipeline.core.crypto.integrity import (
    HEADER_HMAC,
    HEADER_MESSAGE_ID,
    HEADER_SCHEMA,
    MalformedSignatureError,
    MessageIdError,
    MissingSignatureError,
    SignatureError,
    SignatureMismatchError,
    SignatureRetiredKeyError,
    SignatureUnknownKeyError,
    SignatureWrongPurposeError,
    canonical_bytes,
    sign,
    signed_headers,
    verify,
    verify_headers,
)
from pipeline.core.crypto.keyring import KeyPurpose, Keyring, RetiredKeyError, UnknownKeyError
from pipeline.core.errors import PipelineError

KEYRING = Keyring.generate()
INGEST = KeyPurpose.INGEST_HMAC
MESSAGE_ID = "msg-0001-abcdef"
RECORD_KEY = b"patient-42"
VALUE = bytes(range(256))[:150] + b'{"note": "BP 120/80"}'


def flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def test_header_format():
    header = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    m = re.fullmatch(r"v2:(ingest-hmac-v1):([A-Za-z0-9+/]+=*)", header)
    assert m is not None
    assert len(base64.b64decode(m.group(2))) == 32
    assert verify(KEYRING, INGEST, header, MESSAGE_ID, RECORD_KEY, VALUE) == "ingest-hmac-v1"
    assert verify(KEYRING, INGEST, header.encode(), MESSAGE_ID, RECORD_KEY, VALUE) == "ingest-hmac-v1"


def test_canonical_bytes_separates_parts():
    # Bytes cannot shift between key and value, and None differs from empty.
    assert canonical_bytes("m", b"ab", b"c") != canonical_bytes("m", b"a", b"bc")
    assert canonical_bytes("m", None, b"v") != canonical_bytes("m", b"", b"v")
    assert canonical_bytes("m", b"v", None) != canonical_bytes("m", None, b"v")
    assert canonical_bytes("mk", b"", b"") != canonical_bytes("m", b"k", b"")
    assert canonical_bytes("m", b"k", b"v").startswith(b"\x01" + (20).to_bytes(8, "big") + b"phi-pipeline/hmac/v2")
    assert canonical_bytes("m", b"k", b"v", "s:1") != canonical_bytes("m", b"k", b"v", None)
    assert canonical_bytes("m", b"k", b"v", "") != canonical_bytes("m", b"k", b"v", None)


def test_every_single_byte_flip_of_value_key_and_message_id_is_detected():
    header = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    for i in range(len(VALUE)):
        with pytest.raises(SignatureMismatchError):
            verify(KEYRING, INGEST, header, MESSAGE_ID, RECORD_KEY, flip(VALUE, i))
    for i in range(len(RECORD_KEY)):
        with pytest.raises(SignatureMismatchError):
            verify(KEYRING, INGEST, header, MESSAGE_ID, flip(RECORD_KEY, i), VALUE)
    mid = MESSAGE_ID.encode()
    for i in range(len(mid)):
        with pytest.raises(SignatureMismatchError):
            verify(KEYRING, INGEST, header, flip(mid, i).decode(), RECORD_KEY, VALUE)


def test_every_single_byte_flip_of_the_mac_is_detected():
    header = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    prefix, tag = header.rsplit(":", 1)
    raw = base64.b64decode(tag)
    for i in range(len(raw)):
        forged = f"{prefix}:{base64.b64encode(flip(raw, i)).decode()}"
        with pytest.raises(SignatureMismatchError):
            verify(KEYRING, INGEST, forged, MESSAGE_ID, RECORD_KEY, VALUE)


def test_swaps_truncation_and_none_key_detected():
    header = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    cases = [
        (MESSAGE_ID, VALUE, RECORD_KEY),  # key and value swapped
        (MESSAGE_ID, None, VALUE),  # key dropped
        (MESSAGE_ID, b"", VALUE),
        (MESSAGE_ID, RECORD_KEY, VALUE[:-1]),
        (MESSAGE_ID, RECORD_KEY, VALUE + b"\x00"),
        ("msg-0002-abcdef", RECORD_KEY, VALUE),  # replay under another id
    ]
    for message_id, key, value in cases:
        with pytest.raises(SignatureMismatchError):
            verify(KEYRING, INGEST, header, message_id, key, value)
    none_header = sign(KEYRING, INGEST, MESSAGE_ID, None, VALUE)
    verify(KEYRING, INGEST, none_header, MESSAGE_ID, None, VALUE)
    with pytest.raises(SignatureMismatchError):
        verify(KEYRING, INGEST, none_header, MESSAGE_ID, b"", VALUE)


@settings(max_examples=60, deadline=None)
@given(
    message_id=st.text(min_size=1, max_size=40),
    key=st.none() | st.binary(max_size=40),
    value=st.none() | st.binary(max_size=300),
    data=st.data(),
)
def test_property_round_trip_and_any_change_detected(message_id, key, value, data):
    header = sign(KEYRING, INGEST, message_id, key, value)
    verify(KEYRING, INGEST, header, message_id, key, value)
    other_key = data.draw(st.none() | st.binary(max_size=40))
    other_value = data.draw(st.none() | st.binary(max_size=300))
    other_id = data.draw(st.text(min_size=1, max_size=40))
    if (other_id, other_key, other_value) != (message_id, key, value):
        with pytest.raises(SignatureMismatchError):
            verify(KEYRING, INGEST, header, other_id, other_key, other_value)


@pytest.mark.parametrize(
    ("header", "error", "reason"),
    [
        (None, MissingSignatureError, "hmac-missing"),
        ("", MissingSignatureError, "hmac-missing"),
        (b"", MissingSignatureError, "hmac-missing"),
        ("garbage", MalformedSignatureError, "hmac-malformed"),
        ("v2:ingest-hmac-v1:" + "A" * 44, MalformedSignatureError, "hmac-malformed"),
        ("v3:ingest-hmac-v1:" + base64.b64encode(bytes(32)).decode(), MalformedSignatureError, "hmac-malformed"),
        ("v1::" + "A" * 44, MalformedSignatureError, "hmac-malformed"),
        ("v1:ingest-hmac-v1:not base64!", MalformedSignatureError, "hmac-malformed"),
        ("v1:ingest-hmac-v1:" + base64.b64encode(b"short").decode(), MalformedSignatureError, "hmac-malformed"),
        ("v1:ingest-hmac-v1:" + "A" * 44 + ":x", MalformedSignatureError, "hmac-malformed"),
        (b"v1:\xff:abc", MalformedSignatureError, "hmac-malformed"),
        ("v1:ingest-hmac-v1:" + "A" * 400, MalformedSignatureError, "hmac-malformed"),
        ("v1:ingest-hmac-v9:" + base64.b64encode(bytes(32)).decode(), SignatureUnknownKeyError, "hmac-unknown-key"),
        ("v1:someone-else:" + base64.b64encode(bytes(32)).decode(), SignatureUnknownKeyError, "hmac-unknown-key"),
        ("v1:egress-hmac-v1:" + base64.b64encode(bytes(32)).decode(), SignatureWrongPurposeError, "hmac-wrong-purpose"),
        ("v1:ingest-hmac-v1:" + base64.b64encode(bytes(32)).decode(), SignatureMismatchError, "hmac-mismatch"),
    ],
)
def test_reason_codes(header, error, reason):
    with pytest.raises(error) as info:
        verify(KEYRING, INGEST, header, MESSAGE_ID, RECORD_KEY, VALUE)
    assert info.value.reason == reason
    assert isinstance(info.value, SignatureError) and isinstance(info.value, PipelineError)


def test_key_errors_are_also_keyring_errors():
    assert issubclass(SignatureUnknownKeyError, UnknownKeyError)
    assert issubclass(SignatureRetiredKeyError, RetiredKeyError)
    assert integrity.UnknownKeyError is UnknownKeyError


def test_rotation_old_signatures_verify_new_use_newest_and_retired_refused():
    keyring = Keyring.generate()
    old = sign(keyring, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    keyring.rotate(INGEST)
    new = sign(keyring, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    assert new.split(":")[1] == "ingest-hmac-v2" and old.split(":")[1] == "ingest-hmac-v1"
    assert verify(keyring, INGEST, old, MESSAGE_ID, RECORD_KEY, VALUE) == "ingest-hmac-v1"
    assert verify(keyring, INGEST, new, MESSAGE_ID, RECORD_KEY, VALUE) == "ingest-hmac-v2"
    keyring.retire("ingest-hmac-v1")
    with pytest.raises(SignatureRetiredKeyError, match="retired") as info:
        verify(keyring, INGEST, old, MESSAGE_ID, RECORD_KEY, VALUE)
    assert info.value.reason == "hmac-retired-key"
    verify(keyring, INGEST, new, MESSAGE_ID, RECORD_KEY, VALUE)


def test_other_keyring_with_same_ids_is_a_mismatch():
    header = sign(Keyring.generate(), INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    with pytest.raises(SignatureMismatchError):
        verify(KEYRING, INGEST, header, MESSAGE_ID, RECORD_KEY, VALUE)


def test_error_messages_never_show_material_or_value():
    header = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    with pytest.raises(SignatureMismatchError) as info:
        verify(KEYRING, INGEST, header, MESSAGE_ID, RECORD_KEY, b"SSN 123-45-6789")
    text = str(info.value)
    for key in KEYRING:
        assert base64.b64encode(key.material).decode() not in text and key.material.hex() not in text
    assert "123-45-6789" not in text and "patient-42" not in text


def test_signed_headers_and_verify_headers():
    headers = signed_headers(KEYRING, MESSAGE_ID, RECORD_KEY, VALUE, "intake.v1")
    assert [name for name, _ in headers] == [HEADER_MESSAGE_ID, HEADER_HMAC, HEADER_SCHEMA]
    assert all(isinstance(v, bytes) for _, v in headers)
    verified = verify_headers(KEYRING, INGEST, headers, RECORD_KEY, VALUE)
    assert verified.message_id == MESSAGE_ID
    assert verified.key_id == "ingest-hmac-v1"
    assert verified.schema == "intake.v1"
    egress = signed_headers(KEYRING, MESSAGE_ID, RECORD_KEY, VALUE, "intake.v1", purpose=KeyPurpose.EGRESS_HMAC)
    verify_headers(KEYRING, KeyPurpose.EGRESS_HMAC, egress, RECORD_KEY, VALUE)
    with pytest.raises(SignatureWrongPurposeError):
        verify_headers(KEYRING, INGEST, egress, RECORD_KEY, VALUE)
    with pytest.raises(SignatureMismatchError):
        verify_headers(KEYRING, INGEST, headers, RECORD_KEY, VALUE + b"x")


def test_verify_headers_problems():
    headers = signed_headers(KEYRING, MESSAGE_ID, RECORD_KEY, VALUE, "intake.v1")
    by_name = dict(headers)
    with pytest.raises(MessageIdError) as info:
        verify_headers(KEYRING, INGEST, [(HEADER_HMAC, by_name[HEADER_HMAC])], RECORD_KEY, VALUE)
    assert info.value.reason == "message-id-missing"
    with pytest.raises(MessageIdError) as info:
        verify_headers(KEYRING, INGEST, [*headers, (HEADER_MESSAGE_ID, b"other")], RECORD_KEY, VALUE)
    assert info.value.reason == "message-id-invalid"
    with pytest.raises(MessageIdError) as info:
        verify_headers(KEYRING, INGEST, [(HEADER_MESSAGE_ID, b"\xff\xfe")], RECORD_KEY, VALUE)
    assert info.value.reason == "message-id-invalid"
    with pytest.raises(MessageIdError):
        verify_headers(KEYRING, INGEST, [(HEADER_MESSAGE_ID, b"x" * 300)], RECORD_KEY, VALUE)
    with pytest.raises(MissingSignatureError):
        verify_headers(KEYRING, INGEST, [(HEADER_MESSAGE_ID, MESSAGE_ID.encode())], RECORD_KEY, VALUE)
    with pytest.raises(MalformedSignatureError, match="2 phi-hmac headers"):
        verify_headers(KEYRING, INGEST, [*headers, (HEADER_HMAC, by_name[HEADER_HMAC])], RECORD_KEY, VALUE)


def test_non_canonical_base64_mac_is_refused():
    # 32 bytes leave 2 unused bits in the last base64 character; setting them must not verify.
    header = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    prefix, tag = header.rsplit(":", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(tag[-2])
    variant = tag[:-2] + alphabet[last ^ 0b01] + "="
    assert base64.b64decode(variant) == base64.b64decode(tag)
    with pytest.raises(MalformedSignatureError):
        verify(KEYRING, INGEST, f"{prefix}:{variant}", MESSAGE_ID, RECORD_KEY, VALUE)


def _legacy_v1(keyring, purpose, message_id, key, value):
    """A signature as the pipeline made them before v2 (no schema in the MAC)."""
    import hashlib
    import hmac as hmac_module

    signing = keyring.current(purpose)
    mac = hmac_module.new(signing.material, integrity.legacy_canonical_bytes(message_id, key, value), hashlib.sha256)
    return f"v1:{signing.key_id}:{base64.b64encode(mac.digest()).decode()}"


def test_schema_header_is_signed_in_and_out():
    for purpose in (INGEST, KeyPurpose.EGRESS_HMAC):
        headers = signed_headers(KEYRING, MESSAGE_ID, RECORD_KEY, VALUE, "clinical_record:1", purpose=purpose)
        assert verify_headers(KEYRING, purpose, headers, RECORD_KEY, VALUE).schema == "clinical_record:1"
        relabelled = [(n, b"lab_result:1" if n == HEADER_SCHEMA else v) for n, v in headers]
        with pytest.raises(SignatureMismatchError):
            verify_headers(KEYRING, purpose, relabelled, RECORD_KEY, VALUE)
        dropped = [(n, v) for n, v in headers if n != HEADER_SCHEMA]
        with pytest.raises(SignatureMismatchError):
            verify_headers(KEYRING, purpose, dropped, RECORD_KEY, VALUE)
        added = [*dropped, (HEADER_SCHEMA, b"clinical_record:1")]
        verify_headers(KEYRING, purpose, added, RECORD_KEY, VALUE)  # header order does not matter


def test_legacy_v1_signatures_verify_only_without_an_unsigned_schema_header():
    from pipeline.core.crypto.integrity import UnsignedSchemaError

    old = _legacy_v1(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    bare = [(HEADER_MESSAGE_ID, MESSAGE_ID.encode()), (HEADER_HMAC, old.encode())]
    verified = verify_headers(KEYRING, INGEST, bare, RECORD_KEY, VALUE)
    assert (verified.version, verified.schema, verified.schema_signed) == ("v1", None, True)
    with_schema = [*bare, (HEADER_SCHEMA, b"clinical_record:1")]
    with pytest.raises(UnsignedSchemaError) as info:
        verify_headers(KEYRING, INGEST, with_schema, RECORD_KEY, VALUE)
    assert info.value.reason == "hmac-schema-unsigned"
    legacy = verify_headers(KEYRING, INGEST, with_schema, RECORD_KEY, VALUE, legacy_schema=True)
    assert (legacy.version, legacy.schema, legacy.schema_signed) == ("v1", "clinical_record:1", False)
    with pytest.raises(SignatureMismatchError):  # v1 still covers id, key and value
        verify_headers(KEYRING, INGEST, bare, RECORD_KEY, VALUE + b"x")
    # A v2 MAC relabelled as v1 (a downgrade) does not verify.
    new = sign(KEYRING, INGEST, MESSAGE_ID, RECORD_KEY, VALUE)
    with pytest.raises(SignatureMismatchError):
        verify(KEYRING, INGEST, "v1" + new[2:], MESSAGE_ID, RECORD_KEY, VALUE)
