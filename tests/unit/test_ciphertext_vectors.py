"""docs/contract-vectors.json's ciphertexts, in every envelope format this build reads, checked both ways.

- The spec decrypts every vector: docs/contract.md (Ciphertexts) written again here with the
  ``cryptography`` primitives alone (HKDF-SHA256, AES-256-GCM), not the pipeline's envelope code.
- The pipeline decrypts every vector (formats 1 and 2 were made by the code of their time, with the
  published test keys), refuses each one moved to another record or field, and writes the newest format.
"""

from __future__ import annotations

import base64
import json
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pipeline.core.crypto.envelope import FORMAT_VERSION, Encryptor, EnvelopeError, parse_ciphertext
from pipeline.core.crypto.keyring import Keyring
from pipeline.devtools.contract_vectors import check_ciphertext
from tests.conftest import REPO_ROOT

VECTORS = json.loads((REPO_ROOT / "docs" / "contract-vectors.json").read_text(encoding="utf-8"))
CIPHERTEXTS = VECTORS["ciphertexts"]
KEYRING = Keyring.from_dict(VECTORS["keyring"])


# -- the spec, written again from docs/contract.md ----------------------------------------------------


def _field(data: bytes | None) -> bytes:
    return struct.pack(">BQ", 0, 0) if data is None else struct.pack(">BQ", 1, len(data)) + data


def _spec_open(vector: dict) -> bytes:
    key_id, _, text = vector["ciphertext"].removeprefix("enc:").partition(":")
    payload = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    version = payload[0]
    material = next(base64.b64decode(k["material"]) for k in VECTORS["keyring"]["keys"] if k["key_id"] == key_id)
    field = vector["kind"] == "field"
    domain = b"phi-pipeline/envelope/v1/" + (b"field" if field else b"sealed")
    message_id = None if vector["message_id"] is None else vector["message_id"].encode()
    path = vector["field_path"].encode() if field else b""
    last = (vector["phi_type"] if field else vector["context"]).encode()
    ad = b"".join(_field(p) for p in (domain, key_id.encode(), bytes([version]), message_id, path, last))
    salt_bytes = 0 if version == 1 else 32
    salt, rest = payload[1 : 1 + salt_bytes], payload[1 + salt_bytes :]
    wrap_nonce, wrapped, data_nonce, body = rest[:12], rest[12:60], rest[60:72], rest[72:]
    if version == 1:
        wrapping = material
    else:
        info = b"phi-pipeline/envelope/v2/wrap\x00" + key_id.encode()
        wrapping = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)
    wrap_ad = ad
    if version == 3:
        wrap_ad = b"".join(_field(p) for p in (domain + b"/data-key", key_id.encode(), b"\x03", message_id))
    data_key = AESGCM(wrapping).decrypt(wrap_nonce, wrapped, wrap_ad)
    return AESGCM(data_key).decrypt(data_nonce, body, ad)


def _plaintext(vector: dict) -> bytes:
    if vector["kind"] == "field":
        return vector["plaintext"].encode("utf-8")
    return base64.b64decode(vector["plaintext_b64"])


@pytest.mark.parametrize("vector", CIPHERTEXTS, ids=lambda v: v["name"])
def test_the_spec_decrypts_each_ciphertext_vector(vector):
    assert _spec_open(vector) == _plaintext(vector)


# -- the pipeline ---------------------------------------------------------------------------------------


def test_there_are_vectors_of_every_format_for_fields_and_dead_letters():
    kinds = {(v["version"], v["kind"]) for v in CIPHERTEXTS}
    assert kinds == {(version, kind) for version in (1, 2, 3) for kind in ("field", "sealed")}
    assert FORMAT_VERSION == 3
    one_record = [parse_ciphertext(v["ciphertext"]) for v in CIPHERTEXTS if (v["version"], v["kind"]) == (3, "field")]
    assert len({p.payload[:93] for p in one_record}) == 1, "a record's fields share one wrapped data key"


@pytest.mark.parametrize("vector", CIPHERTEXTS, ids=lambda v: v["name"])
def test_the_pipeline_decrypts_each_vector_in_its_own_context_only(vector):
    encryptor = Encryptor(KEYRING)
    check_ciphertext(vector, encryptor)
    with pytest.raises(EnvelopeError) as info:
        if vector["kind"] == "field":
            encryptor.decrypt(vector["ciphertext"], "vector-enc-2", vector["field_path"], vector["phi_type"])
        else:
            encryptor.open_bytes(vector["ciphertext"], "vector-enc-2", vector["context"])
    assert info.value.reason == "enc-invalid"
    if vector["kind"] == "field":
        with pytest.raises(EnvelopeError):
            encryptor.decrypt(vector["ciphertext"], vector["message_id"], "ssn2", vector["phi_type"])


def test_a_check_that_cannot_fail_would_be_caught():
    vector = next(v for v in CIPHERTEXTS if v["kind"] == "field" and v["version"] == 3)
    with pytest.raises(ValueError, match="another value"):
        check_ciphertext({**vector, "plaintext": "000-00-0000"}, Encryptor(KEYRING))
    with pytest.raises(ValueError, match="version byte"):
        check_ciphertext({**vector, "version": 2}, Encryptor(KEYRING))
