"""docs/contract-vectors.json, checked both ways.

- The spec re-derives every vector: the signed bytes, MAC and ``phi-hmac`` header are rebuilt here with
  hashlib, hmac, base64 and struct alone, following docs/contract.md (not the pipeline's code), and the
  rejection vectors get their reason codes from the spec's verification order.
- The pipeline reproduces every vector: its canonical bytes and signatures equal the vectors, a processor
  accepts every ingress vector and dead-letters every rejection with its reason, and every egress vector
  verifies and decodes with the shipped schema its ``phi-schema`` header names.
- The kafkajs reference client checks the same file in JavaScript (skipped without node).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import fastavro
import pytest

from pipeline.core.crypto.integrity import canonical_bytes, legacy_canonical_bytes, sign, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.errors import RejectedMessage
from pipeline.core.messages import InboundMessage
from pipeline.core.roles import Outcome
from tests.conftest import REPO_ROOT
from tests.unit.processors import unit_processor

VECTORS = json.loads((REPO_ROOT / "docs" / "contract-vectors.json").read_text(encoding="utf-8"))
CONTRACT = (REPO_ROOT / "docs" / "contract.md").read_text(encoding="utf-8")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


# -- the spec, written again from docs/contract.md with the standard library only ------------------


def _spec_field(data: bytes | None) -> bytes:
    return struct.pack(">BQ", 0, 0) if data is None else struct.pack(">BQ", 1, len(data)) + data


def _spec_signed_bytes(version: str, message_id: str, schema: str | None, key: bytes | None, value: bytes | None):
    fields = [f"phi-pipeline/hmac/{version}".encode("ascii"), message_id.encode("utf-8")]
    if version == "v2":
        fields.append(None if schema is None else schema.encode("utf-8"))
    return b"".join(_spec_field(f) for f in [*fields, key, value])


def _spec_keys() -> dict[str, dict]:
    return {k["key_id"]: {**k, "material": base64.b64decode(k["material"])} for k in VECTORS["keyring"]["keys"]}


def _spec_verify(headers: list[list[str]], key: bytes | None, value: bytes | None, purpose: str) -> str:
    """The reason code docs/contract.md gives a message ("ok" when accepted), in its order of checks."""
    keys = _spec_keys()

    def values(name: str) -> list[str]:
        return [v for h, v in headers if h == name]

    ids = values("phi-message-id")
    if not ids or ids[0] == "":
        return "message-id-missing"
    if len(ids) > 1 or len(ids[0].encode()) > 256:
        return "message-id-invalid"
    schemas, macs = values("phi-schema"), values("phi-hmac")
    if len(schemas) > 1:
        return "hmac-malformed"
    if len(macs) > 1:
        return "hmac-malformed"
    if not macs or macs[0] == "":
        return "hmac-missing"
    parts = macs[0].split(":")
    if len(macs[0]) > 256 or len(parts) != 3 or parts[0] not in ("v1", "v2"):
        return "hmac-malformed"
    version, key_id, text = parts
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,80}", key_id) or not re.fullmatch(r"[A-Za-z0-9+/]{43}=", text):
        return "hmac-malformed"
    mac = base64.b64decode(text)
    if base64.b64encode(mac).decode() != text:
        return "hmac-malformed"
    if key_id not in keys:
        return "hmac-unknown-key"
    if keys[key_id]["purpose"] != purpose:
        return "hmac-wrong-purpose"
    if keys[key_id]["status"] != "active":
        return "hmac-retired-key"
    schema = schemas[0] if schemas else None
    expected = hmac.new(
        keys[key_id]["material"], _spec_signed_bytes(version, ids[0], schema, key, value), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, mac):
        return "hmac-mismatch"
    if version == "v1" and schema is not None:
        return "hmac-schema-unsigned"
    if not re.fullmatch(r"[A-Za-z0-9._:@/-]{1,128}", ids[0]):
        return "message-id-invalid"
    return "ok"


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_spec_rederives_each_vector(vector):
    keys = _spec_keys()
    key, value = _bytes(vector["key_b64"]), _bytes(vector["value_b64"])
    signed = _spec_signed_bytes(vector["version"], vector["message_id"], vector["schema"], key, value)
    assert signed.hex() == vector["signed_bytes_hex"]
    mac = base64.b64encode(hmac.new(keys[vector["key_id"]]["material"], signed, hashlib.sha256).digest()).decode()
    assert mac == vector["mac"] and len(mac) == 44 and mac.endswith("=")
    assert ["phi-hmac", f"{vector['version']}:{vector['key_id']}:{mac}"] in vector["headers"]
    purpose = "ingest-hmac" if vector["direction"] == "ingress" else "egress-hmac"
    expected = "hmac-schema-unsigned" if vector["expect"] == "verified-schema-unsigned" else "ok"
    assert _spec_verify(vector["headers"], key, value, purpose) == expected


@pytest.mark.parametrize("case", VECTORS["rejections"], ids=lambda c: c["name"])
def test_the_spec_gives_each_rejection_its_reason(case):
    assert (
        _spec_verify(case["headers"], _bytes(case["key_b64"]), _bytes(case["value_b64"]), "ingest-hmac")
        == (case["expect"])
    )


def test_the_newest_active_ingest_key_signs():
    keys = _spec_keys()
    active = [k for k in keys.values() if k["purpose"] == "ingest-hmac" and k["status"] == "active"]
    newest = max(active, key=lambda k: k["version"])["key_id"]
    assert {v["key_id"] for v in VECTORS["vectors"] if v["direction"] == "ingress"} == {newest}


# -- the pipeline reproduces every vector --------------------------------------------------------------


@pytest.fixture(scope="module")
def vector_keyring() -> Keyring:
    return Keyring.from_dict(VECTORS["keyring"])


def _headers(pairs: list[list[str]]) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, value.encode("utf-8")) for name, value in pairs)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_pipeline_reproduces_each_vector(vector, vector_keyring):
    key, value = _bytes(vector["key_b64"]), _bytes(vector["value_b64"])
    if vector["version"] == "v1":
        signed = legacy_canonical_bytes(vector["message_id"], key, value)
    else:
        signed = canonical_bytes(vector["message_id"], key, value, vector["schema"])
    assert signed.hex() == vector["signed_bytes_hex"]
    purpose = KeyPurpose.INGEST_HMAC if vector["direction"] == "ingress" else KeyPurpose.EGRESS_HMAC
    if vector["version"] == "v2":
        assert sign(vector_keyring, purpose, vector["message_id"], key, value, vector["schema"]) == (
            f"v2:{vector['key_id']}:{vector['mac']}"
        )
    verified = verify_headers(vector_keyring, purpose, _headers(vector["headers"]), key, value, legacy_schema=True)
    assert (verified.message_id, verified.key_id, verified.schema) == (
        vector["message_id"],
        vector["key_id"],
        vector["schema"],
    )
    assert verified.schema_signed == (vector["expect"] != "verified-schema-unsigned")


def test_a_worker_accepts_every_ingress_vector_and_refuses_every_rejection(registry, vector_keyring):
    processor = unit_processor(registry, vector_keyring)
    ingress = [v for v in VECTORS["vectors"] if v["direction"] == "ingress"]
    cases = [*ingress, *VECTORS["rejections"]]
    messages = [
        InboundMessage(_bytes(c["value_b64"]), _bytes(c["key_b64"]), _headers(c["headers"]), "phi.ingest", 0, i, None)
        for i, c in enumerate(cases)
    ]
    results = processor.process_batch(messages)
    for case, result in zip(cases, results, strict=True):
        if case in ingress:
            assert result.outcome is Outcome.OK, (case["name"], result.reason)
            assert result.message_id == case["message_id"]
        else:
            assert (result.outcome, result.reason) == (Outcome.DEADLETTER, case["expect"]), case["name"]


def _shipped_schema(name: str):
    raw = json.loads((REPO_ROOT / "schemas" / f"{name}.avsc").read_text(encoding="utf-8"))
    return fastavro.parse_schema(raw)


EGRESS = [v for v in VECTORS["vectors"] if v["direction"] == "egress"]


@pytest.mark.parametrize("vector", EGRESS, ids=lambda v: v["name"])
def test_each_egress_vector_decodes_with_the_shipped_schema(vector):
    value = _bytes(vector["value_b64"])
    name, _, version = vector["schema"].partition(":")
    if vector["encoding"] == "hl7v2":
        assert name == "hl7v2" and value.startswith(b"MSH|")
        return
    if vector["encoding"] == "fhir":
        assert name == "fhir-r4" and json.loads(value)["resourceType"] == version
        return
    record = fastavro.schemaless_reader(io.BytesIO(value), _shipped_schema(name), None)
    identity = record["event_id"] if name == "audit_event" else record["message_id"]
    assert identity == vector["message_id"]


# -- the contract names everything the code can answer ---------------------------------------------------


def _reasons(cls: type) -> set[str]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub.reason)
        found |= _reasons(sub)
    return found


def test_the_contract_lists_every_dead_letter_reason():
    import pipeline.core.generalize  # noqa: F401 (defines a RejectedMessage subclass)
    from pipeline.core.crypto.integrity import SignatureError

    reasons = _reasons(RejectedMessage) | _reasons(SignatureError)
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", CONTRACT, re.MULTILINE))
    assert reasons - listed == set()
    assert {c["expect"] for c in VECTORS["rejections"]} <= listed


def test_the_kafkajs_client_checks_the_vectors_too():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    client = REPO_ROOT / "clients" / "node"
    done = subprocess.run(
        [node, "vectors.js", str(REPO_ROOT / "docs" / "contract-vectors.json")],
        cwd=client,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(VECTORS['vectors'])} vectors" in done.stdout


def test_the_shipped_output_schema_is_the_derived_one(registry):
    from pipeline.core.schemas import shipped_output_schema

    shipped = Path(REPO_ROOT / "schemas" / "deidentified_clinical_record.avsc").read_text(encoding="utf-8")
    entry = registry.get("deidentified_clinical_record")
    assert shipped == shipped_output_schema(registry.get("clinical_record"), entry.registry_id)


def test_keys_export_hands_a_producer_its_signing_key(tmp_path, capsys):
    """docs/contract.md 3.2: the operator exports the ingest keys; a producer reading that file as the
    spec says signs messages the worker accepts, and the file holds no other purpose's key."""
    from pipeline.interfaces.cli import main

    full, handed = tmp_path / "keyring.json", tmp_path / "producer.json"
    assert main(["keys", "init", "--path", str(full)]) == 0
    assert main(["keys", "rotate", "--path", str(full), "--purpose", "ingest-hmac"]) == 0
    assert main(["keys", "export", "--path", str(full), "--purpose", "ingest-hmac", "--out", str(handed)]) == 0
    assert (handed.stat().st_mode & 0o077) == 0
    document = json.loads(handed.read_text(encoding="utf-8"))
    assert {k["purpose"] for k in document["keys"]} == {"ingest-hmac"} and len(document["keys"]) == 2
    newest = max((k for k in document["keys"] if k["status"] == "active"), key=lambda k: k["version"])
    value, key = b'{"record_id": "ENC-1"}', b"ENC-1"
    signed = _spec_signed_bytes("v2", "msg-export-1", "clinical_record:1", key, value)
    mac = base64.b64encode(hmac.new(base64.b64decode(newest["material"]), signed, hashlib.sha256).digest()).decode()
    headers = _headers(
        [
            ["phi-message-id", "msg-export-1"],
            ["phi-hmac", f"v2:{newest['key_id']}:{mac}"],
            ["phi-schema", "clinical_record:1"],
        ]
    )
    verified = verify_headers(Keyring.load(full), KeyPurpose.INGEST_HMAC, headers, key, value)
    assert verified.key_id == "ingest-hmac-v2"
    printed = capsys.readouterr().out
    assert "ingest-hmac-v2" in printed and all(k["material"] not in printed for k in document["keys"])


def test_a_shipped_output_schema_that_drifted_stops_the_worker_at_load(tmp_path):
    import shutil as files

    from pipeline.core.errors import SchemaError
    from pipeline.core.schemas import SchemaRegistry

    folder = tmp_path / "schemas"
    files.copytree(REPO_ROOT / "schemas", folder)
    shipped = folder / "deidentified_clinical_record.avsc"
    raw = json.loads(shipped.read_text(encoding="utf-8"))
    raw["fields"] = [f for f in raw["fields"] if f["name"] != "sensitive_categories"]
    shipped.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SchemaError, match=r"not the schema derived from clinical_record\.avsc"):
        SchemaRegistry.load(folder)


@pytest.mark.parametrize("registry_id", [1101, 1201, 1301, 1401, 999])
def test_confluent_framing_takes_input_schema_ids_only(registry, registry_id):
    from pipeline.core.codecs import decode
    from pipeline.core.errors import UnknownSchema

    with pytest.raises(UnknownSchema):
        decode(registry, None, struct.pack(">bI", 0, registry_id) + b"\x02", "clinical_record")
