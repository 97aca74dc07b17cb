"""Dead-letter replay selection: idempotent across runs, once per original within a run (issue 20 #7)."""

from __future__ import annotations

from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.replay import ReplayCandidate, fingerprint, fingerprint_key_ids, matches, plan_replay

ORIGINALS = [(b"k1", b"value-1", [("phi-message-id", b"m1")]), (b"k2", b"value-2", [("phi-message-id", b"m2")])]


def _candidates(keyring: Keyring, letters, keys=None):
    keys = keys or [keyring.current(KeyPurpose.DEADLETTER)]
    current = keyring.current(KeyPurpose.DEADLETTER)
    found = []
    for offset, (index, reason) in enumerate(letters):
        key, value, headers = ORIGINALS[index]
        prints = {k.key_id: fingerprint(k, key, value, headers) for k in keys}
        letter = {"message_id": f"m{index + 1}", "reason": reason}
        found.append(ReplayCandidate(offset, letter, frozenset(prints.values()), prints[current.key_id]))
    return found


def test_a_second_run_replays_nothing_and_a_third_neither():
    keyring = Keyring.generate()
    first = plan_replay(_candidates(keyring, [(0, "schema-unknown"), (1, "schema-unknown")]), set())
    assert [c.where for c in first.selected] == [0, 1]
    recorded = {c.record for c in first.selected}
    # the topic now also holds the letters the replayed originals produced, rejected again
    letters = [(0, "schema-unknown"), (1, "schema-unknown"), (0, "schema-unknown"), (1, "schema-unknown")]
    for _ in range(2):
        later = plan_replay(_candidates(keyring, letters), recorded)
        assert later.selected == [] and later.replayed_before == 4
    again = plan_replay(_candidates(keyring, letters), recorded, again=True)
    assert [c.where for c in again.selected] == [0, 1] and again.repeated == 2


def test_one_replay_per_original_within_a_run():
    keyring = Keyring.generate()
    plan = plan_replay(_candidates(keyring, [(0, "hmac-missing"), (0, "hmac-missing"), (1, "hmac-missing")]), set())
    assert [c.where for c in plan.selected] == [0, 2] and plan.repeated == 1


def test_records_made_before_a_key_rotation_still_match():
    keyring = Keyring.generate()
    old = keyring.current(KeyPurpose.DEADLETTER)
    recorded = {c.record for c in plan_replay(_candidates(keyring, [(0, "empty")]), set()).selected}
    keyring.rotate(KeyPurpose.DEADLETTER)
    assert fingerprint_key_ids(recorded) == {old.key_id}
    keys = [keyring.current(KeyPurpose.DEADLETTER), old]
    later = plan_replay(_candidates(keyring, [(0, "empty")], keys), recorded)
    assert later.selected == [] and later.replayed_before == 1


def test_fingerprint_covers_key_value_and_headers_and_is_keyed():
    keyring, other = Keyring.generate(), Keyring.generate()
    key = keyring.current(KeyPurpose.DEADLETTER)
    base = fingerprint(key, b"k", b"v", [("h", b"1")])
    assert base.startswith(f"v1:{key.key_id}:")
    variants = [
        fingerprint(key, None, b"v", [("h", b"1")]),
        fingerprint(key, b"k", b"v2", [("h", b"1")]),
        fingerprint(key, b"k", b"v", [("h", b"2")]),
        fingerprint(key, b"kv", b"", [("h", b"1")]),
        fingerprint(other.current(KeyPurpose.DEADLETTER), b"k", b"v", [("h", b"1")]),
    ]
    assert base not in variants and len(set(variants)) == len(variants)


def test_reason_and_message_id_filters():
    letter = {"message_id": "m1", "reason": "empty"}
    assert matches(letter, None, None) and matches(letter, ["empty"], ["m1"])
    assert not matches(letter, ["oversized"], None) and not matches(letter, None, ["m2"])
