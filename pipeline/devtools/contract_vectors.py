"""Writes ``docs/contract-vectors.json``: the wire contract's test vectors (docs/contract.md, Test vectors).

    python -m pipeline.devtools.contract_vectors docs/contract-vectors.json

Every vector is made by the pipeline's own code under a keyring of fixed, published test keys (never
use them for anything else): ingress messages in every encoding, signed ``v2`` (and ``v1`` for old
producers), the egress messages a worker writes for them, and messages the worker must refuse with
their reason codes. The file is committed; ``tests/unit/test_contract_vectors.py`` checks it both ways
(the pipeline reproduces and accepts each vector; an implementation of the spec in the test re-derives
each MAC), and ``clients/node/vectors.js`` checks it again in JavaScript. Egress values hold times and
fresh nonces, so a regenerated file differs byte for byte: regenerate only when the contract changes.

``ciphertexts`` holds field ciphertexts and sealed dead-letter bytes in every envelope format this build
reads (docs/contract.md, Ciphertexts): the current format's are made here; older formats' cannot be
made by today's code, so they are carried over from the file being replaced (each names the commit
whose code made it). ``--ciphertexts`` rewrites that section alone and leaves the rest of the file as is.

    python -m pipeline.devtools.contract_vectors --ciphertexts docs/contract-vectors.json
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_SCHEMA_DIR
from pipeline.core.codecs import encode_avro, encode_confluent, encode_json
from pipeline.core.crypto.envelope import FORMAT_VERSION, Encryptor, parse_ciphertext
from pipeline.core.crypto.integrity import (
    HEADER_HMAC,
    HEADER_MESSAGE_ID,
    HEADER_SCHEMA,
    canonical_bytes,
    legacy_canonical_bytes,
    signed_headers,
)
from pipeline.core.crypto.keyring import KEY_SIZES, Key, KeyPurpose, Keyring, KeyStatus
from pipeline.core.deidentify import Deidentifier
from pipeline.core.detection import RuleDetector
from pipeline.core.messages import InboundMessage
from pipeline.core.phi_types import PhiType
from pipeline.core.processing import RecordProcessor
from pipeline.core.schemas import SchemaRegistry
from pipeline.devtools.clinical import synthetic_fhir, synthetic_hl7
from pipeline.devtools.synthetic import synthetic_records

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
INPUT_TOPIC = "phi.ingest"


def test_keyring() -> Keyring:
    """Every purpose with fixed material (byte ``i`` of a key is ``(seed + i) % 256``); ``ingest-hmac-v1``
    retired, ``ingest-hmac-v2`` the newest active ingest key, ``egress-hmac-v1`` the egress key."""
    keys = []
    for seed, purpose in enumerate(KeyPurpose):
        material = bytes((seed * 32 + i) % 256 for i in range(KEY_SIZES[purpose]))
        keys.append(Key(f"{purpose.value}-v1", purpose, 1, KeyStatus.ACTIVE, CREATED, material))
    keyring = Keyring(keys)
    keyring.rotate(KeyPurpose.INGEST_HMAC, now=CREATED)
    keyring.retire("ingest-hmac-v1")
    # rotate() draws random material: pin ingest-hmac-v2 too, so the file is reproducible in its inputs
    fixed = [k for k in keyring if k.key_id != "ingest-hmac-v2"]
    fixed.append(Key("ingest-hmac-v2", KeyPurpose.INGEST_HMAC, 2, KeyStatus.ACTIVE, CREATED, bytes(range(200, 232))))
    return Keyring(fixed)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _header_pairs(headers: Any) -> list[list[str]]:
    return [[name, value.decode("utf-8")] for name, value in headers]


def _describe(
    name: str,
    direction: str,
    encoding: str,
    headers: list[tuple[str, bytes]],
    key: bytes | None,
    value: bytes | None,
    expect: str,
    note: str = "",
) -> dict[str, Any]:
    by_name = {h: v.decode("utf-8") for h, v in headers}
    signature = by_name.get(HEADER_HMAC, "")
    version, _, rest = signature.partition(":")
    key_id, _, mac = rest.partition(":")
    message_id = by_name.get(HEADER_MESSAGE_ID, "")
    schema = by_name.get(HEADER_SCHEMA)
    signed = (
        legacy_canonical_bytes(message_id, key, value)
        if version == "v1"
        else canonical_bytes(message_id, key, value, schema)
    )
    vector: dict[str, Any] = {
        "name": name,
        "direction": direction,
        "encoding": encoding,
        "version": version,
        "key_id": key_id,
        "message_id": message_id,
        "schema": schema,
        "key_b64": _b64(key),
        "value_b64": _b64(value),
        "signed_bytes_hex": signed.hex(),
        "mac": mac,
        "headers": _header_pairs(headers),
        "expect": expect,
    }
    if note:
        vector["note"] = note
    return vector


def _v1_headers(keyring: Keyring, purpose: KeyPurpose, message_id: str, key: bytes | None, value: bytes) -> list:
    """A ``v1`` signature (message id, key and value; no schema header), as producers made before ``v2``."""
    import hashlib
    import hmac

    signing = keyring.current(purpose)
    mac = hmac.new(signing.material, legacy_canonical_bytes(message_id, key, value), hashlib.sha256).digest()
    signature = f"v1:{signing.key_id}:{base64.b64encode(mac).decode('ascii')}"
    return [(HEADER_MESSAGE_ID, message_id.encode()), (HEADER_HMAC, signature.encode())]


def build(schema_dir: Path = DEFAULT_SCHEMA_DIR) -> dict[str, Any]:
    keyring = test_keyring()
    registry = SchemaRegistry.load(schema_dir)
    entry = registry.get("clinical_record")
    records = [r.record for r in synthetic_records(4, seed=3100)]
    records[0]["note"] = "Seen 3/4. Call 555-201-7788 if worse."
    hl7 = next(synthetic_hl7(1, seed=3101))
    fhir = next(synthetic_fhir(1, seed=3102))
    ingress: list[tuple[str, str, list, bytes | None, bytes, str]] = []

    def add(name: str, encoding: str, key: bytes | None, value: bytes, schema: str | None, note: str = "") -> None:
        message_id = f"vector-{name}"
        headers = signed_headers(keyring, message_id, key, value, schema or "")
        if schema is None:  # no phi-schema header at all: presence byte 0 in the signed bytes
            from pipeline.core.crypto.integrity import sign

            headers = [
                (HEADER_MESSAGE_ID, message_id.encode()),
                (HEADER_HMAC, sign(keyring, KeyPurpose.INGEST_HMAC, message_id, key, value, None).encode()),
            ]
        ingress.append((name, encoding, headers, key, value, note))

    key0 = records[0]["record_id"].encode()
    add("v2-json", "json", key0, encode_json(records[0]), entry.ref)
    add("v2-avro", "avro", records[1]["record_id"].encode(), encode_avro(entry, records[1]), entry.ref)
    add("v2-confluent", "confluent", None, encode_confluent(entry, records[2]), entry.ref, "null key")
    add("v2-no-schema-header", "json", b"", encode_json(records[3]), None, "empty key; schema from the default")
    add("v2-hl7v2", "hl7v2", hl7.key.encode(), hl7.value, hl7.schema)
    add("v2-fhir", "fhir", fhir.key.encode(), fhir.value, fhir.schema)
    legacy_value = encode_confluent(entry, records[1])
    ingress.append(
        (
            "v1-confluent",
            "confluent",
            _v1_headers(keyring, KeyPurpose.INGEST_HMAC, "vector-v1-confluent", key0, legacy_value),
            key0,
            legacy_value,
            "v1: no phi-schema header; the schema comes from the Confluent id",
        )
    )

    deidentifier = Deidentifier(
        keyring=keyring, detector=RuleDetector(), registry=registry, default_schema="clinical_record"
    )
    processor = RecordProcessor(deidentifier=deidentifier, worker_id="vectors", max_message_bytes=1_048_576)
    inbound = [
        InboundMessage(value, key, tuple(headers), INPUT_TOPIC, 0, offset, None)
        for offset, (_, _, headers, key, value, _) in enumerate(ingress)
    ]
    results = processor.process_batch(inbound)
    vectors = []
    outputs = []
    for (name, encoding, headers, key, value, note), result in zip(ingress, results, strict=True):
        if result.outcome != "ok":
            raise RuntimeError(f"vector {name} was not accepted: {result.reason}")
        vectors.append(_describe(f"ingress-{name}", "ingress", encoding, headers, key, value, "accepted", note))
        clinical = encoding if encoding in ("hl7v2", "fhir") else "avro"
        for output in result.outputs:  # the record, and its audit event (kept for the first input only)
            if output.role != "audit" or not vectors[1:]:
                outputs.append((f"egress-{name}-{output.role}", "avro" if output.role == "audit" else clinical, output))
    unsigned = InboundMessage(b"{not json", key0, (), INPUT_TOPIC, 0, len(inbound), None)
    outputs.append(("egress-dead-letter", "avro", processor.process_batch([unsigned])[0].outputs[0]))
    for name, encoding, output in outputs:
        vectors.append(_describe(name, "egress", encoding, list(output.headers), output.key, output.value, "verified"))
    vectors.append(_legacy_egress(keyring, outputs[0][2]))
    return {
        "format": "phi-pipeline-contract-vectors",
        "format_version": 1,
        "spec": "docs/contract.md",
        "warning": "The keys below are published test keys: never use them outside tests.",
        "keyring": keyring.to_dict(),
        "vectors": vectors,
        "rejections": _rejections(keyring, entry, records[0]),
        "ciphertexts": ciphertext_vectors(keyring),
    }


#: The ciphertext vectors' plaintexts: two fields of one record (format 3: one data key between them) and
#: a dead letter's sealed value and key (the key without a message id).
_FIELDS = (("ssn", PhiType.SSN, "123-45-6789"), ("contacts[1].name", PhiType.NAME, "Zoë Ångström-Núñez"))
_SEALED = ((b"original kafka message \x00\xff", "vector-enc-1", "deadletter/value"), (b"k", None, "deadletter/key"))


def ciphertext_vectors(keyring: Keyring, carried: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """``carried`` vectors of older formats (from the file being replaced), then the current format's,
    made here; each decrypts under ``keyring`` to its plaintext."""
    encryptor = Encryptor(keyring)
    fresh: list[dict[str, Any]] = []
    for path, phi_type, value in _FIELDS:
        ciphertext = encryptor.encrypt(value, "vector-enc-1", path, phi_type)
        fresh.append({"kind": "field", "message_id": "vector-enc-1", "field_path": path, "phi_type": phi_type.value,
                      "plaintext": value, "ciphertext": ciphertext})  # fmt: skip
    for data, message_id, context in _SEALED:
        ciphertext = encryptor.seal_bytes(data, message_id, context)
        fresh.append({"kind": "sealed", "message_id": message_id, "context": context,
                      "plaintext_b64": _b64(data), "ciphertext": ciphertext})  # fmt: skip
    for vector in fresh:
        vector.update(version=FORMAT_VERSION, made_by="pipeline.devtools.contract_vectors")
    old = [v for v in carried if v["version"] != FORMAT_VERSION]
    return [
        {"name": f"enc-v{v['version']}-{v['kind']}-{i}", **{k: v[k] for k in v if k != "name"}}
        for i, v in enumerate(sorted(old, key=lambda v: v["version"]) + fresh)
    ]


def check_ciphertext(vector: dict[str, Any], encryptor: Encryptor) -> None:
    """Raises unless ``vector`` decrypts to its plaintext (and its version byte is the one it claims)."""
    if parse_ciphertext(vector["ciphertext"]).version != vector["version"]:
        raise ValueError(f"{vector['name']}: its version byte is not {vector['version']}")
    if vector["kind"] == "field":
        plain = encryptor.decrypt(vector["ciphertext"], vector["message_id"], vector["field_path"], vector["phi_type"])
        if plain != vector["plaintext"]:
            raise ValueError(f"{vector['name']}: decrypts to another value")
    elif encryptor.open_bytes(vector["ciphertext"], vector["message_id"], vector["context"]) != base64.b64decode(
        vector["plaintext_b64"]
    ):
        raise ValueError(f"{vector['name']}: opens to other bytes")


def _legacy_egress(keyring: Keyring, output: Any) -> dict[str, Any]:
    """An output written before ``v2``: a ``v1`` MAC beside a ``phi-schema`` header it does not cover."""
    headers = dict(output.headers)
    message_id = headers[HEADER_MESSAGE_ID].decode()
    v1 = _v1_headers(keyring, KeyPurpose.EGRESS_HMAC, message_id, output.key, output.value)
    v1.append((HEADER_SCHEMA, headers[HEADER_SCHEMA]))
    return _describe(
        "egress-v1-legacy-output",
        "egress",
        "avro",
        v1,
        output.key,
        output.value,
        "verified-schema-unsigned",
        "consumers may accept it as written before v2, knowing phi-schema is not covered",
    )


def _rejections(keyring: Keyring, entry: Any, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages a worker must refuse, each with the dead-letter reason it gets."""
    value = encode_json(record)
    key = record["record_id"].encode()
    good = signed_headers(keyring, "vector-reject", key, value, entry.ref)

    def replaced(name: str, new: bytes | None) -> list[tuple[str, bytes]]:
        return [(h, new if h == name else v) for h, v in good if not (h == name and new is None)]

    mac = dict(good)[HEADER_HMAC].decode()
    version, key_id, tag = mac.split(":")
    raw_tag = base64.b64decode(tag)
    retired = keyring.describe("ingest-hmac-v1")
    egress = keyring.current(KeyPurpose.EGRESS_HMAC)
    cases: list[tuple[str, list[tuple[str, bytes]], bytes | None, str]] = [
        ("value-changed", good, value.replace(b"{", b"{ ", 1), "hmac-mismatch"),
        ("key-changed", good, value, "hmac-mismatch"),
        ("schema-relabelled", replaced(HEADER_SCHEMA, b"clinical_record"), value, "hmac-mismatch"),
        ("no-hmac", replaced(HEADER_HMAC, None), value, "hmac-missing"),
        ("no-message-id", replaced(HEADER_MESSAGE_ID, None), value, "message-id-missing"),
        ("two-message-ids", [*good, (HEADER_MESSAGE_ID, b"vector-other")], value, "message-id-invalid"),
        ("message-id-grammar", None, value, "message-id-invalid"),
        ("base64url-mac", None, value, "hmac-malformed"),
        ("mac-unpadded", replaced(HEADER_HMAC, f"{version}:{key_id}:{tag[:-1]}".encode()), value, "hmac-malformed"),
        ("hex-mac", replaced(HEADER_HMAC, f"{version}:{key_id}:{raw_tag.hex()}".encode()), value, "hmac-malformed"),
        ("v3", replaced(HEADER_HMAC, f"v3:{key_id}:{tag}".encode()), value, "hmac-malformed"),
        ("unknown-key", replaced(HEADER_HMAC, f"{version}:ingest-hmac-v9:{tag}".encode()), value, "hmac-unknown-key"),
        ("retired-key", None, value, "hmac-retired-key"),
        ("egress-key-on-input", None, value, "hmac-wrong-purpose"),
        ("v1-with-schema-header", None, value, "hmac-schema-unsigned"),
    ]
    import hashlib
    import hmac

    def signed_with(material: bytes, kid: str, message_id: str, legacy: bool = False) -> list[tuple[str, bytes]]:
        data = (
            legacy_canonical_bytes(message_id, key, value)
            if legacy
            else canonical_bytes(message_id, key, value, entry.ref)
        )
        tag_text = base64.b64encode(hmac.new(material, data, hashlib.sha256).digest()).decode()
        return [
            (HEADER_MESSAGE_ID, message_id.encode()),
            (HEADER_HMAC, f"{'v1' if legacy else 'v2'}:{kid}:{tag_text}".encode()),
            (HEADER_SCHEMA, entry.ref.encode()),
        ]

    current = keyring.current(KeyPurpose.INGEST_HMAC)
    made = {
        "message-id-grammar": signed_with(current.material, current.key_id, "vector reject!"),
        "retired-key": signed_with(retired.material, retired.key_id, "vector-reject"),
        "egress-key-on-input": signed_with(egress.material, egress.key_id, "vector-reject"),
        "v1-with-schema-header": signed_with(current.material, current.key_id, "vector-reject", legacy=True),
    }
    url_tag = base64.urlsafe_b64encode(raw_tag).decode()
    if url_tag == tag:  # make sure the MAC has a '+' or '/' for this case: sign another message id
        raise RuntimeError("pick another record: its MAC is the same in base64 and base64url")
    made["base64url-mac"] = replaced(HEADER_HMAC, f"{version}:{key_id}:{url_tag}".encode())
    out = []
    for name, headers, this_value, reason in cases:
        headers = made.get(name, headers)
        this_key = b"ENC-other" if name == "key-changed" else key
        out.append(
            {
                "name": name,
                "key_b64": _b64(this_key),
                "value_b64": _b64(this_value),
                "headers": [[h, v.decode("utf-8")] for h, v in headers],
                "expect": reason,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    only_ciphertexts = "--ciphertexts" in args
    paths = [a for a in args if a != "--ciphertexts"]
    target = Path(paths[0] if paths else "docs/contract-vectors.json")
    previous = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    data = previous if only_ciphertexts else build()
    keyring = Keyring.from_dict(data["keyring"])
    data["ciphertexts"] = ciphertext_vectors(keyring, previous.get("ciphertexts", []))
    encryptor = Encryptor(keyring)
    for vector in data["ciphertexts"]:  # the carried ones too: a file that does not decrypt is never written
        check_ciphertext(vector, encryptor)
    target.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
