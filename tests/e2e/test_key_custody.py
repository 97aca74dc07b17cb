"""Key custody in OpenBao (issue 16), on the embedded broker with a real ``bao`` dev server.

The keyring on disk holds only wrapped keys; a worker logs in with AppRole and unwraps them in memory;
rotating the transit keys (and the data keys) mid-stream loses nothing and old ciphertexts still
reveal; revoking the worker's policy stops it with a clear error, and a new worker refuses to start.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from pipeline.core.crypto.custody import WrappedKeyring, load_keyring_document, wrap_keyring
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.phi_types import PhiType
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit, policy_name
from pipeline.stream.clients import decode_output
from tests.e2e.cli import run_cli
from tests.e2e.helpers import log_tail, read_outputs, send, worker_process
from tests.openbao_server import kms_settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def raw_key_spellings(keyring: Keyring) -> dict[str, list[bytes]]:
    """Every way a data key could sit in a JSON file: raw, base64, base64url (with and without padding), hex."""
    spellings: dict[str, list[bytes]] = {}
    for key in keyring:
        m = key.material
        spellings[key.key_id] = [
            m,
            base64.b64encode(m),
            base64.urlsafe_b64encode(m),
            base64.urlsafe_b64encode(m).rstrip(b"="),
            base64.b64encode(m).rstrip(b"="),
            m.hex().encode(),
            m.hex().upper().encode(),
        ]
    return spellings


def assert_no_raw_key(path: Path, keyring: Keyring) -> None:
    data = path.read_bytes()
    for key_id, spellings in raw_key_spellings(keyring).items():
        for spelling in spellings:
            assert spelling not in data, f"{key_id} appears in clear in {path}"
    # And the 32/64-byte halves too (a partial leak of an AES-SIV key would be one).
    for key in keyring:
        for half in (key.material[:16], key.material[16:32]):
            assert base64.b64encode(half)[:20] not in data


def admin_settings(base, custody, keyring_path: Path):
    return kms_settings(base, custody, "admin", keyring_path)


def _inputs(keyring, registry, count: int, seed: int):
    entry = registry.get("clinical_record")
    return [
        signed_input(keyring, entry.ref, encode_record(entry, s.record, "avro"), s.record["record_id"])
        for s in synthetic_records(count, seed=seed)
    ]


def _protected(registry, outputs, topic):
    """(message id, tokens, decoded record) per redacted record."""
    found = []
    for m in outputs:
        if m.topic != topic:
            continue
        record = decode_output(registry, m)
        text = json.dumps(record)
        tokens = [w.strip('",') for w in text.split() if w.strip('",').startswith("tok:")]
        found.append((dict(m.headers)["phi-message-id"].decode(), tokens, record))
    return found


def test_wrapped_keyring_worker_rotation_and_revocation(topic_settings, registry, custody, tmp_path):
    keyring = Keyring.generate()  # only ever in this test's memory: the file gets the wrapped form
    wrapped_path = tmp_path / "keyring.wrapped.json"
    wrap_keyring(keyring, custody["admin"], key_prefix=custody["prefix"]).save(wrapped_path)
    assert_no_raw_key(wrapped_path, keyring)
    assert isinstance(load_keyring_document(wrapped_path), WrappedKeyring)

    worker_settings = kms_settings(topic_settings, custody, "worker", wrapped_path)
    admin = admin_settings(topic_settings, custody, wrapped_path)
    first = _inputs(keyring, registry, 30, seed=11)
    second = _inputs(keyring, registry, 30, seed=12)
    third = _inputs(keyring, registry, 30, seed=13)
    log1, log2 = tmp_path / "worker1.log", tmp_path / "worker2.log"

    with worker_process(worker_settings, log1) as worker:
        send(worker_settings, first)
        read_outputs(worker_settings, {i.message_id for i in first}, timeout=120)
        assert "wrapped by OpenBao transit" in log1.read_text(), log_tail(log1)
        # Mid-stream: rotate every transit key and rewrap the file while the worker runs and records flow.
        send(worker_settings, second)
        rotated = run_cli(admin, "keys", "rotate-kek", "--path", str(wrapped_path))
        assert rotated.returncode == 0, rotated.stderr
        assert all(f"{e.kek}" in rotated.stdout for e in load_keyring_document(wrapped_path))
        new_token = run_cli(admin, "keys", "rotate", "--path", str(wrapped_path), "--purpose", "token")
        new_enc = run_cli(admin, "keys", "rotate", "--path", str(wrapped_path), "--purpose", "encryption")
        assert new_token.returncode == 0 and new_enc.returncode == 0, new_token.stderr + new_enc.stderr
        read_outputs(worker_settings, {i.message_id for i in first + second}, timeout=120)
        assert worker.poll() is None, log_tail(log1)
    assert_no_raw_key(wrapped_path, keyring)
    assert "v2" in json.dumps([e.describe() for e in load_keyring_document(wrapped_path)])

    # A restarted worker unwraps the rewrapped file (with the new data keys) and goes on.
    with worker_process(worker_settings, log2) as worker:
        send(worker_settings, third)
        everything = {i.message_id for i in first + second + third}
        outputs = read_outputs(worker_settings, everything, timeout=120)
        # Revoke the worker's policy: the running worker stops with the KMS's reason within its check interval.
        custody["root"].sys.create_or_update_policy(
            policy_name("worker", custody["prefix"]), 'path "sys/nothing" { capabilities = ["deny"] }'
        )
        deadline = time.monotonic() + 60
        while worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert worker.returncode == 77, log_tail(log2)
    text = log2.read_text()
    assert "OpenBao denied unwrap" in text and "revoked" in text, text[-2000:]

    # Nothing lost: every input has exactly one output (redacted or dead letter).
    redacted = _protected(registry, outputs, worker_settings.topic_redacted)
    ids = [mid for mid, _, _ in redacted]
    assert set(ids) == everything and len(ids) >= len(everything)

    # Old and new ciphertexts and tokens still reveal with the keys the reveal workload unwraps now.
    reveal_keys = WrappedKeyring.unwrap(
        load_keyring_document(wrapped_path),
        OpenBaoTransit(
            OpenBaoConfig(
                custody["addr"], role_id=custody["creds"]["reveal"].role_id,
                secret_id=custody["creds"]["reveal"].secret_id,
            )
        ),
        {KeyPurpose.TOKEN, KeyPurpose.ENCRYPTION},
    )  # fmt: skip
    assert {k.key_id for k in reveal_keys} >= {"token-v1", "token-v2", "encryption-v1", "encryption-v2"}
    originals = {i.message_id: r.record for i, r in zip(first + second + third, _records(), strict=True)}
    key_ids = set()
    for mid, tokens, out in redacted:
        assert tokens and out["mrn"] in tokens, "every record carries tokens"
        record = originals[mid]
        if out.get("ssn"):
            key_ids.add(out["ssn"].split(":")[1])
            assert Encryptor(reveal_keys).decrypt(out["ssn"], mid, "ssn", PhiType.SSN) == record["ssn"]
        assert Tokenizer(reveal_keys).detokenize(out["mrn"], PhiType.MRN) == record["mrn"]
        key_ids.add(out["mrn"].split(":")[1])
    assert {"encryption-v1", "encryption-v2", "token-v1", "token-v2"} <= key_ids

    # A new worker under the revoked policy refuses to start, naming the reason.
    refused = run_cli(worker_settings, "worker")
    assert refused.returncode == 2
    assert "OpenBao denied unwrap" in refused.stderr and "revoked" in refused.stderr


def _records():
    return [*synthetic_records(30, seed=11), *synthetic_records(30, seed=12), *synthetic_records(30, seed=13)]


def test_reveal_policy_cannot_unwrap_worker_only_keys_and_admin_cannot_unwrap(custody, tmp_path):
    keyring = Keyring.generate()
    wrapped = wrap_keyring(keyring, custody["admin"], key_prefix=custody["prefix"])
    reveal = OpenBaoTransit(
        OpenBaoConfig(
            custody["addr"], role_id=custody["creds"]["reveal"].role_id, secret_id=custody["creds"]["reveal"].secret_id
        )
    )
    from pipeline.core.crypto.custody import KmsPermissionError

    held = wrapped.unwrap(reveal, {KeyPurpose.TOKEN, KeyPurpose.ENCRYPTION, KeyPurpose.AUDIT})
    assert held.current(KeyPurpose.TOKEN) == keyring.current(KeyPurpose.TOKEN)
    for purpose in (KeyPurpose.INGEST_HMAC, KeyPurpose.DEADLETTER, KeyPurpose.PSEUDONYM):
        with pytest.raises(KmsPermissionError, match="OpenBao denied unwrap"):
            wrapped.unwrap(reveal, {purpose})
    with pytest.raises(KmsPermissionError):
        wrapped.unwrap(custody["admin"], {KeyPurpose.TOKEN})
    # A wrapped key moved onto another entry's id does not unwrap (the key id is the derivation context).
    doc = wrapped.to_dict()
    tok = next(e for e in doc["keys"] if e["key_id"] == "token-v1")
    other = dict(tok, key_id="token-v2", version=2)
    doc["keys"].append(other)
    from pipeline.core.crypto.custody import KmsWrappedKeyError

    with pytest.raises(KmsWrappedKeyError):
        WrappedKeyring.from_dict(doc).unwrap(reveal, {KeyPurpose.TOKEN})
