"""Audited reveal and dead-letter replay through the command line, on the real broker."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.reveal import hash_api_token, new_api_token
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.inputs import encode_record, hostile_messages, signed_input
from pipeline.core.phi_types import PhiType
from pipeline.core.synthetic import synthetic_records
from pipeline.stream.clients import consume, decode_output
from tests.e2e.helpers import message_id, read_outputs, run_cli, send, worker_process

pytestmark = [pytest.mark.broker]


def test_reveal_needs_token_and_role_and_every_attempt_is_audited(topic_settings, keyring, registry, tmp_path):
    officer, clerk = new_api_token(), new_api_token()
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "roles": {"privacy-officer": ["*"], "billing": ["HEALTH_PLAN"]},
                "api_tokens": [
                    {"actor": "alice", "roles": ["privacy-officer"], "hash": hash_api_token(officer)},
                    {"actor": "bob", "roles": ["billing"], "hash": hash_api_token(clerk)},
                ],
            }
        )
    )
    mrn_token = Tokenizer(keyring).tokenize("7767936", PhiType.MRN)
    ssn_cipher = Encryptor(keyring).encrypt("847-73-2029", "msg-1", "ssn", PhiType.SSN)
    args = ["--policy", str(policy)]

    allowed = run_cli(
        topic_settings, "reveal", mrn_token, "--type", "MRN", "--role", "privacy-officer", *args, stdin=officer + "\n"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "7767936"

    def reveal_ssn(message_id: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            topic_settings, "reveal", ssn_cipher, "--type", "SSN", "--role", "privacy-officer",
            "--message-id", message_id, "--field", "ssn", *args, stdin=officer,
        )  # fmt: skip

    decrypted = reveal_ssn("msg-1")
    assert decrypted.stdout.strip() == "847-73-2029"
    wrong_role = run_cli(topic_settings, "reveal", mrn_token, "--type", "MRN", "--role", "billing", *args, stdin=clerk)
    assert wrong_role.returncode == 3 and "7767936" not in wrong_role.stdout + wrong_role.stderr
    bad_token = run_cli(
        topic_settings, "reveal", mrn_token, "--type", "MRN", "--role", "privacy-officer", *args, stdin="not-a-token"
    )
    assert bad_token.returncode == 3
    moved = reveal_ssn("msg-2")  # the ciphertext is bound to msg-1
    assert moved.returncode == 3 and "847-73-2029" not in moved.stdout

    audits = asyncio.run(consume(topic_settings, [topic_settings.topic_audit], timeout=15, until=lambda f: len(f) >= 5))
    events = [decode_output(registry, m) for m in audits]
    assert sorted(e["outcome"] for e in events) == ["allowed", "allowed", "denied-role", "denied-token", "invalid"]
    assert {e["actor"] for e in events} == {"alice", "bob", "(unauthenticated)"}
    text = json.dumps(events)
    for secret in ("7767936", "847-73-2029", officer, clerk, "not-a-token"):
        assert secret not in text


def test_replayed_dead_letters_are_the_original_bytes(topic_settings, keyring, registry, tmp_path):
    entry = registry.get("clinical_record")
    record = next(synthetic_records(1, seed=3)).record
    bad = [
        h.message
        for h in hostile_messages(keyring, entry, record, "k", topic_settings.max_message_bytes)
        if h.expected_reason == "schema-unknown"
    ]
    good = [signed_input(keyring, entry.ref, encode_record(entry, record, "avro"), "k")]
    with worker_process(topic_settings, tmp_path / "worker.log"):
        send(topic_settings, bad + good)
        first = read_outputs(topic_settings, {m.message_id for m in bad + good}, timeout=90)
        letters = [m for m in first if m.topic == topic_settings.topic_deadletter]
        assert {message_id(m) for m in letters} == {m.message_id for m in bad}
        replay = run_cli(topic_settings, "deadletter", "replay", "--reason", "schema-unknown", "--timeout", "10")
        assert replay.returncode == 0, replay.stderr
        assert f"{len(bad)} dead letters replayed" in replay.stdout

        def twice(found):
            ids = [message_id(m) for m in found if m.topic == topic_settings.topic_deadletter]
            return all(ids.count(m.message_id) >= 2 for m in bad)

        again = asyncio.run(consume(topic_settings, [topic_settings.topic_deadletter], until=twice, timeout=60))
    ids = [message_id(m) for m in again]
    assert all(ids.count(m.message_id) == 2 for m in bad)  # same id, same bytes, same verdict
    originals = {m.message_id: m.value for m in bad}
    encryptor = Encryptor(keyring)
    for message in again:
        letter = decode_output(registry, message)
        opened = encryptor.open_bytes(letter["sealed_value"], letter["message_id"], context="deadletter/value")
        assert opened == originals[letter["message_id"]]
