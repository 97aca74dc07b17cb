"""AES-256-GCM envelope: round trips, fresh nonces, every byte flip, context binding, rotation, dead letters."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.crypto.envelope import (
    Encryptor,
    EnvelopeError,
    is_ciphertext,
    parse_ciphertext,
)
from pipeline.core.crypto.keyring import KeyPurpose, Keyring, RetiredKeyError, UnknownKeyError
from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType

KEYRING = Keyring.generate()
ENC = Encryptor(KEYRING)
MID = "msg-77"
PATH = "patient.ssn"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(max_examples=80, deadline=None)
@given(
    value=st.text(), message_id=st.text(max_size=20), path=st.text(max_size=20), phi_type=st.sampled_from(list(PhiType))
)
def test_round_trip_over_arbitrary_unicode(value, message_id, path, phi_type):
    ct = ENC.encrypt(value, message_id, path, phi_type)
    assert re.fullmatch(r"enc:encryption-v1:[A-Za-z0-9_-]+", ct) and is_ciphertext(ct)
    assert ENC.decrypt(ct, message_id, path, phi_type) == value


def test_fresh_nonce_and_data_key_every_time():
    cts = {ENC.encrypt("same", MID, PATH, PhiType.SSN) for _ in range(50)}
    assert len(cts) == 50
    payloads = [parse_ciphertext(c).payload for c in cts]
    assert len({p[1:13] for p in payloads}) == 50, "wrap nonces repeat"
    assert len({p[13:61] for p in payloads}) == 50, "wrapped data keys repeat"
    assert len({p[61:73] for p in payloads}) == 50, "data nonces repeat"


def test_every_byte_flip_of_ciphertext_detected():
    ct = ENC.encrypt("123-45-6789", MID, PATH, PhiType.SSN)
    parsed = parse_ciphertext(ct)
    for i in range(len(parsed.payload)):
        raw = bytearray(parsed.payload)
        raw[i] ^= 0x01
        with pytest.raises(EnvelopeError) as info:
            ENC.decrypt(f"enc:{parsed.key_id}:{b64url(bytes(raw))}", MID, PATH, PhiType.SSN)
        # Byte 0 is the format version: refused before any cryptography.
        assert info.value.reason == ("enc-malformed" if i == 0 else "enc-invalid")
        assert "123-45-6789" not in str(info.value)


def test_truncated_or_extended_ciphertext_detected():
    parsed = parse_ciphertext(ENC.encrypt("x" * 40, MID, PATH, PhiType.SSN))
    for payload in (parsed.payload[:-1], parsed.payload + b"\x00", parsed.payload[:80]):
        with pytest.raises(EnvelopeError):
            ENC.decrypt(f"enc:encryption-v1:{b64url(payload)}", MID, PATH, PhiType.SSN)


def test_moved_between_records_fields_or_types_fails():
    ct = ENC.encrypt("Jane Doe", MID, "patient.name", PhiType.NAME)
    for message_id, path, phi_type in [
        ("msg-78", "patient.name", PhiType.NAME),  # another record
        (MID, "guarantor.name", PhiType.NAME),  # another field
        (MID, "patient.name", PhiType.FACILITY),  # another type
        (MID + "patient", ".name", PhiType.NAME),  # shifted boundary
        ("", "patient.name", PhiType.NAME),
    ]:
        with pytest.raises(EnvelopeError) as info:
            ENC.decrypt(ct, message_id, path, phi_type)
        assert info.value.reason == "enc-invalid"
    assert ENC.decrypt(ct, MID, "patient.name", PhiType.NAME) == "Jane Doe"


def test_ciphertext_from_another_keyring_fails():
    ct = Encryptor(Keyring.generate()).encrypt("v", MID, PATH, PhiType.SSN)
    with pytest.raises(EnvelopeError) as info:
        ENC.decrypt(ct, MID, PATH, PhiType.SSN)
    assert info.value.reason == "enc-invalid"


def test_rotation_keeps_old_readable_and_new_uses_newest():
    keyring = Keyring.generate()
    enc = Encryptor(keyring)
    old = enc.encrypt("old", MID, PATH, PhiType.SSN)
    keyring.rotate(KeyPurpose.ENCRYPTION)
    new = enc.encrypt("new", MID, PATH, PhiType.SSN)
    assert old.startswith("enc:encryption-v1:") and new.startswith("enc:encryption-v2:")
    assert enc.decrypt(old, MID, PATH, PhiType.SSN) == "old"
    assert enc.decrypt(new, MID, PATH, PhiType.SSN) == "new"
    keyring.retire("encryption-v1")
    with pytest.raises(EnvelopeError, match="retired") as info:
        enc.decrypt(old, MID, PATH, PhiType.SSN)
    assert info.value.reason == "enc-retired-key" and isinstance(info.value, RetiredKeyError)
    assert enc.decrypt(new, MID, PATH, PhiType.SSN) == "new"


def test_key_id_swap_unknown_and_wrong_purpose():
    keyring = Keyring.generate()
    keyring.rotate(KeyPurpose.ENCRYPTION)
    enc = Encryptor(keyring)
    body = enc.encrypt("v", MID, PATH, PhiType.SSN).rsplit(":", 1)[1]
    with pytest.raises(EnvelopeError) as info:
        enc.decrypt(f"enc:encryption-v1:{body}", MID, PATH, PhiType.SSN)
    assert info.value.reason == "enc-invalid"
    with pytest.raises(EnvelopeError) as info:
        enc.decrypt(f"enc:encryption-v5:{body}", MID, PATH, PhiType.SSN)
    assert info.value.reason == "enc-unknown-key" and isinstance(info.value, UnknownKeyError)
    with pytest.raises(EnvelopeError) as info:
        enc.decrypt(f"enc:deadletter-v1:{body}", MID, PATH, PhiType.SSN)
    assert info.value.reason == "enc-wrong-key"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "enc",
        "enc:encryption-v1",
        "enc::abc",
        "tok:encryption-v1:abc",
        "enc:encryption-v1:a=",
        "enc:encryption-v1:" + b64url(bytes(20)),
        "enc:encryption-v1:" + b64url(b"\x02" + bytes(100)),
    ],
)
def test_malformed(bad):
    with pytest.raises(EnvelopeError) as info:
        ENC.decrypt(bad, MID, PATH, PhiType.SSN)
    assert info.value.reason == "enc-malformed"


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=3000), message_id=st.none() | st.text(max_size=20))
def test_seal_open_bytes_round_trip(data, message_id):
    sealed = ENC.seal_bytes(data, message_id)
    assert sealed.startswith("enc:deadletter-v1:")
    assert ENC.open_bytes(sealed, message_id) == data


def test_sealed_bytes_bound_to_message_and_context_and_kept_encrypted():
    original = b'{"ssn": "123-45-6789", "name": "Jane Doe"}'
    sealed = ENC.seal_bytes(original, MID)
    assert b"123-45-6789" not in sealed.encode() and "Jane" not in sealed
    assert b"123-45-6789" not in parse_ciphertext(sealed).payload
    for message_id, context in [
        ("msg-78", "deadletter"),
        (MID, "deadletter/key"),
        (None, "deadletter"),
        ("", "deadletter"),
    ]:
        with pytest.raises(EnvelopeError):
            ENC.open_bytes(sealed, message_id, context)
    assert ENC.open_bytes(ENC.seal_bytes(b"k", MID, "deadletter/key"), MID, "deadletter/key") == b"k"
    none_sealed = ENC.seal_bytes(original, None)
    with pytest.raises(EnvelopeError):
        ENC.open_bytes(none_sealed, "")


def test_field_ciphertext_and_sealed_bytes_not_interchangeable():
    field_ct = ENC.encrypt("v", MID, "", PhiType.SSN)
    with pytest.raises(EnvelopeError) as info:
        ENC.open_bytes(field_ct, MID, "SSN")
    assert info.value.reason == "enc-wrong-key"
    sealed = ENC.seal_bytes(b"v", MID, "SSN")
    with pytest.raises(EnvelopeError):
        ENC.decrypt(sealed, MID, "", PhiType.SSN)


def test_every_byte_flip_of_sealed_bytes_detected():
    sealed = parse_ciphertext(ENC.seal_bytes(b"original kafka message", MID))
    for i in range(1, len(sealed.payload)):
        raw = bytearray(sealed.payload)
        raw[i] ^= 0x80
        with pytest.raises(EnvelopeError):
            ENC.open_bytes(f"enc:{sealed.key_id}:{b64url(bytes(raw))}", MID)


def test_no_material_in_repr_or_errors():
    text = repr(ENC)
    try:
        ENC.decrypt(ENC.encrypt("v", MID, PATH, PhiType.SSN), "x", PATH, PhiType.SSN)
    except EnvelopeError as exc:
        text += str(exc)
    assert issubclass(EnvelopeError, PipelineError)
    for key in KEYRING:
        assert base64.b64encode(key.material).decode() not in text and key.material.hex() not in text
