"""AES-256-GCM envelope: round trips, fresh nonces, every byte flip, context binding, rotation, dead letters."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.crypto.envelope import (
    RECORD_KEY_USES,
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


def test_fresh_data_key_per_record_and_fresh_nonce_per_value():
    cts = [ENC.encrypt("same", f"msg-{i}", PATH, PhiType.SSN) for i in range(50)]
    assert len(set(cts)) == 50
    parsed = [parse_ciphertext(c) for c in cts]
    assert len({p.salt for p in parsed}) == 50 and all(len(p.salt) == 32 for p in parsed), "salts repeat"
    assert len({p.wrap_nonce for p in parsed}) == 50, "wrap nonces repeat"
    assert len({p.wrapped_key for p in parsed}) == 50, "wrapped data keys repeat"
    assert len({p.data_nonce for p in parsed}) == 50, "data nonces repeat"


def test_a_records_fields_share_one_wrapped_data_key_each_with_its_own_nonce():
    fields = [ENC.encrypt("same", "msg-shared", f"contacts[{i}].ssn", PhiType.SSN) for i in range(40)]
    parsed = [parse_ciphertext(c) for c in fields]
    assert {p.version for p in parsed} == {3}
    assert len({(p.salt, p.wrap_nonce, p.wrapped_key) for p in parsed}) == 1, "one data key per record"
    assert len({p.data_nonce for p in parsed}) == 40, "data nonces repeat within a record"
    for i, ct in enumerate(fields):
        assert ENC.decrypt(ct, "msg-shared", f"contacts[{i}].ssn", PhiType.SSN) == "same"
    other = parse_ciphertext(ENC.encrypt("same", "msg-next", PATH, PhiType.SSN))
    assert other.salt != parsed[0].salt and other.wrapped_key != parsed[0].wrapped_key


def test_a_data_key_serves_a_bounded_number_of_values():
    enc = Encryptor(KEYRING)
    salts = {parse_ciphertext(enc.encrypt("v", "big", PATH, PhiType.SSN)).salt for _ in range(RECORD_KEY_USES + 1)}
    assert len(salts) == 2


def test_sealed_bytes_without_a_message_id_never_share_a_data_key():
    salts = {parse_ciphertext(ENC.seal_bytes(b"x", None)).salt for _ in range(5)}
    assert len(salts) == 5


def _pack(part: bytes) -> bytes:
    return b"\x01" + len(part).to_bytes(8, "big") + part


def _field_ad(key_id: str, version: int, message_id: str, path: str, phi_type: str) -> bytes:
    """The associated data as the module docstring specifies it, built here independently."""
    parts = (b"phi-pipeline/envelope/v1/field", key_id.encode(), bytes([version]), message_id.encode(), path.encode())
    return b"".join(_pack(p) for p in (*parts, phi_type.encode()))


def test_each_data_key_is_wrapped_under_a_one_use_key_derived_from_the_kek():
    """Issue 20 #10: the long-lived KEK never encrypts with a random nonce itself (GCM's 2^32 limit);
    issue 29: format 3 binds the wrap to the record (message id), each value to its field and type."""
    kek = KEYRING.current(KeyPurpose.ENCRYPTION)
    parsed = parse_ciphertext(ENC.encrypt("123-45-6789", MID, PATH, PhiType.SSN))
    assert parsed.version == 3
    ad = _field_ad(kek.key_id, 3, MID, PATH, "SSN")
    wrap_ad = b"".join(_pack(p) for p in (b"phi-pipeline/envelope/v1/field/data-key", kek.key_id.encode(), b"\x03"))
    wrap_ad += _pack(MID.encode())
    with pytest.raises(Exception):  # noqa: B017 - InvalidTag: not wrapped under the KEK itself
        AESGCM(kek.material).decrypt(parsed.wrap_nonce, parsed.wrapped_key, wrap_ad)
    info = b"phi-pipeline/envelope/v2/wrap\x00" + kek.key_id.encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=parsed.salt, info=info).derive(kek.material)
    with pytest.raises(Exception):  # noqa: B017 - InvalidTag: the wrap is bound to the record, not the field
        AESGCM(derived).decrypt(parsed.wrap_nonce, parsed.wrapped_key, ad)
    data_key = AESGCM(derived).decrypt(parsed.wrap_nonce, parsed.wrapped_key, wrap_ad)
    assert AESGCM(data_key).decrypt(parsed.data_nonce, parsed.body, ad) == b"123-45-6789"


def _vector_keyring() -> Keyring:
    def material(purpose: str) -> str:
        return base64.b64encode(hashlib.sha256(f"phi-pipeline test vector {purpose}".encode()).digest()).decode()

    keys = [
        {
            "key_id": f"{purpose}-v1",
            "purpose": purpose,
            "version": 1,
            "status": "active",
            "created": "2026-01-01T00:00:00Z",
            "material": material(purpose),
        }
        for purpose in ("encryption", "deadletter")
    ]
    return Keyring.from_dict({"format": "phi-pipeline-keyring", "format_version": 1, "keys": keys})


# Made by the format-1 code (commit ce7f722) under _vector_keyring(): data keys wrapped under the KEK itself.
V1_FIELD = (
    "enc:encryption-v1:Ac9abPi0Is_2GllEIgE8gBS4H3YEeVLmdLN6bqpoCtH0G_nETZudhXg1fT38nm5-exNSZ2tTAUxKx6mrVvSYvCC0Ujdp2"
    "wsYFPZ7q2kNEM8UFHmdXiGP3Eea3DCqENWYaFV1Mg"
)
V1_SEALED = (
    "enc:deadletter-v1:AW2EgQVlanUCAK7NBuqutWC4lrSQWV9AGFs5vZiDLmhb4mr_VVmnzcbp17VuiLjkKxEwfxRFI5SwSVn10y-7cENZHj-roOK"
    "i93oxB87FdH9q-qHIGjN1l0VJDmNhKZFovFfkAvwFP8_gP-x9CPPl"
)


def test_format_1_ciphertexts_still_decrypt_and_new_ones_are_format_3():
    enc = Encryptor(_vector_keyring())
    assert parse_ciphertext(V1_FIELD).version == 1 and parse_ciphertext(V1_SEALED).version == 1
    assert enc.decrypt(V1_FIELD, "msg-v1-vector", "ssn", PhiType.SSN) == "123-45-6789"
    assert enc.open_bytes(V1_SEALED, "msg-v1-vector", context="deadletter/value") == b"original kafka message"
    with pytest.raises(EnvelopeError) as info:  # still bound to its record
        enc.decrypt(V1_FIELD, "msg-other", "ssn", PhiType.SSN)
    assert info.value.reason == "enc-invalid"
    fresh = enc.encrypt("123-45-6789", "msg-v1-vector", "ssn", PhiType.SSN)
    assert parse_ciphertext(fresh).version == 3
    assert enc.decrypt(fresh, "msg-v1-vector", "ssn", PhiType.SSN) == "123-45-6789"


def test_a_ciphertext_relabelled_as_another_format_does_not_open():
    parsed = parse_ciphertext(ENC.encrypt("123-45-6789", MID, PATH, PhiType.SSN))
    for payload in (b"\x02" + parsed.payload[1:], b"\x01" + parsed.payload[1:], b"\x01" + parsed.payload[1 + 32 :]):
        with pytest.raises(EnvelopeError) as info:
            ENC.decrypt(f"enc:{parsed.key_id}:{b64url(payload)}", MID, PATH, PhiType.SSN)
        assert info.value.reason == "enc-invalid"


def test_every_byte_flip_of_ciphertext_detected():
    ct = ENC.encrypt("123-45-6789", MID, PATH, PhiType.SSN)
    parsed = parse_ciphertext(ct)
    for i in range(len(parsed.payload)):
        raw = bytearray(parsed.payload)
        raw[i] ^= 0x01
        with pytest.raises(EnvelopeError) as info:
            ENC.decrypt(f"enc:{parsed.key_id}:{b64url(bytes(raw))}", MID, PATH, PhiType.SSN)
        # Byte 0 is the format version: 3 flipped to 2 is another readable format (its tag fails).
        assert info.value.reason == ("enc-malformed" if i == 0 and raw[0] not in (1, 2, 3) else "enc-invalid")
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
        "enc:encryption-v1:" + b64url(b"\x04" + bytes(200)),
        "enc:encryption-v1:" + b64url(b"\x01" + bytes(80)),
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
