"""Audit hash chain: appends, resumption, and detection of edits, drops, reordering, duplicates, forgery."""

from __future__ import annotations

import base64
import copy
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.crypto.audit_chain import (
    GENESIS_HASH,
    AuditChain,
    AuditChainError,
    canonical_json,
    event_hash,
    verify_chain,
)
from pipeline.core.crypto.keyring import KeyPurpose, Keyring

KEYRING = Keyring.generate()


def make_events(n: int, chain_id: str = "worker-1-p0", keyring: Keyring = KEYRING) -> list[dict]:
    chain = AuditChain(keyring, chain_id)
    return [
        chain.append(
            {
                "event": "message",
                "message_id": f"m-{i}",
                "outcome": "redacted",
                "entities": {"SSN": i},
                "stage": "protect",
                "note": "ünïcode ✓",
            }
        )
        for i in range(n)
    ]


def round_trip(events: list[dict]) -> list[dict]:
    """As the audit topic would give them back."""
    return [json.loads(json.dumps(e)) for e in events]


def first(report):
    failure = report.first_failure
    assert failure is not None, "verification should have failed"
    return failure.index, failure.reason


def test_append_adds_chain_fields():
    events = make_events(3)
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert events[0]["prev_hash"] == GENESIS_HASH
    assert events[1]["prev_hash"] == events[0]["hash"] and events[2]["prev_hash"] == events[1]["hash"]
    assert all(e["chain_id"] == "worker-1-p0" for e in events)
    assert events[0]["sig"].startswith("v1:audit-v1:")
    assert events[0]["hash"] == event_hash(events[0])
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()


def test_untouched_chain_verifies():
    report = verify_chain(round_trip(make_events(20)), KEYRING)
    assert report.ok, report.summary()
    status = report.chains["worker-1-p0"]
    assert (status.events, status.first_seq, status.last_seq) == (20, 0, 19)
    assert "audit chains verified" in report.summary()


def _alternative(ch: str) -> str:
    if ch.isdigit():
        return str((int(ch) + 1) % 10)
    if ch.isalpha() and ch.isascii():
        return "a" if ch != "a" else "b"
    return "x" if ch != "x" else "y"


@pytest.mark.parametrize("target", [0, 2, 4])
def test_every_single_character_edit_breaks_verification_at_that_event(target):
    events = round_trip(make_events(5))
    line = canonical_json(events[target]).decode()
    checked = unparsable = 0
    for i in range(len(line)):
        edited_line = line[:i] + _alternative(line[i]) + line[i + 1 :]
        try:
            edited = json.loads(edited_line)
        except ValueError:
            unparsable += 1  # the topic reader reports these as unreadable
            continue
        if edited == events[target] or not isinstance(edited, dict):
            continue
        tampered = [*events[:target], edited, *events[target + 1 :]]
        report = verify_chain(tampered, KEYRING)
        assert first(report)[0] == target, (i, edited_line, report.summary())
        checked += 1
    assert checked > len(line) * 0.8, (checked, unparsable, len(line))


def test_every_value_change_is_reported_as_edit_or_signature():
    events = round_trip(make_events(4))
    for field in ("message_id", "outcome", "stage", "note", "seq", "prev_hash", "chain_id", "hash", "sig"):
        tampered = copy.deepcopy(events)
        value = tampered[2][field]
        tampered[2][field] = value + 1 if isinstance(value, int) else value[:-1] + ("0" if value[-1] != "0" else "1")
        index, reason = first(verify_chain(tampered, KEYRING))
        assert index == 2, field
        assert reason in {"edited", "bad-signature", "malformed"}, (field, reason)
    tampered = copy.deepcopy(events)
    tampered[1]["entities"]["SSN"] = 99
    assert first(verify_chain(tampered, KEYRING)) == (1, "edited")
    tampered = copy.deepcopy(events)
    tampered[1]["extra"] = "added"
    assert first(verify_chain(tampered, KEYRING)) == (1, "edited")
    tampered = copy.deepcopy(events)
    del tampered[3]["outcome"]
    assert first(verify_chain(tampered, KEYRING)) == (3, "edited")


@pytest.mark.parametrize("dropped", [0, 1, 5, 8])
def test_dropped_event_detected_at_next_event(dropped):
    events = make_events(10)
    tampered = events[:dropped] + events[dropped + 1 :]
    index, reason = first(verify_chain(tampered, KEYRING))
    assert (index, reason) == (dropped, "gap")


def test_dropped_run_of_events_detected():
    events = make_events(10)
    assert first(verify_chain(events[:3] + events[7:], KEYRING)) == (3, "gap")


def test_reordering_detected_where_it_starts():
    events = make_events(6)
    swapped = [events[0], events[1], events[3], events[2], events[4], events[5]]
    assert first(verify_chain(swapped, KEYRING)) == (2, "reordering")
    late = [events[0], events[2], events[3], events[4], events[1], events[5]]
    assert first(verify_chain(late, KEYRING)) == (1, "reordering")


def test_duplicates():
    events = make_events(4)
    redelivered = [*events[:3], events[1], events[3]]
    assert first(verify_chain(redelivered, KEYRING)) == (3, "duplicate")
    assert verify_chain(redelivered, KEYRING, allow_duplicates=True).ok


def test_fork_from_stale_resume_is_a_duplicate():
    events = make_events(3)
    stale = AuditChain.resume(KEYRING, events[0])  # restarted from an old position
    forked = stale.append({"event": "message", "message_id": "m-x"})
    assert forked["seq"] == 1
    index, reason = first(verify_chain([*events, forked], KEYRING))
    assert (index, reason) == (3, "duplicate")
    assert "forked" in verify_chain([*events, forked], KEYRING).first_failure.detail


def test_broken_link_detected():
    events = make_events(2)
    liar = AuditChain(KEYRING, "worker-1-p0", last_seq=1, last_hash="f" * 64)
    bad = liar.append({"event": "message"})
    assert first(verify_chain([*events, bad], KEYRING)) == (2, "broken-link")


def test_resume_after_restart_continues_the_chain():
    events = make_events(3)
    chain = AuditChain.resume(KEYRING, round_trip(events)[-1])
    assert chain.position == (2, events[-1]["hash"])
    more = [chain.append({"event": "message", "i": i}) for i in range(3)]
    assert [e["seq"] for e in more] == [3, 4, 5]
    assert verify_chain(round_trip(events + more), KEYRING).ok
    seq, last_hash = chain.position
    again = AuditChain(KEYRING, "worker-1-p0", last_seq=seq, last_hash=last_hash).append({"event": "x"})
    assert verify_chain(events + more + [again], KEYRING).ok


def test_forged_chain_with_other_key_is_bad_signature():
    forged = make_events(3, keyring=Keyring.generate())
    assert first(verify_chain(forged, KEYRING)) == (0, "bad-signature")


def test_unknown_and_retired_audit_keys():
    keyring = Keyring.from_json(KEYRING.to_json())
    keyring.rotate(KeyPurpose.AUDIT)
    chain = AuditChain(keyring, "w")
    events = [chain.append({"i": i}) for i in range(2)]
    assert events[0]["sig"].startswith("v1:audit-v2:")
    assert first(verify_chain(events, KEYRING)) == (0, "unknown-key")
    old_events = make_events(2, chain_id="w", keyring=keyring.__class__.from_json(KEYRING.to_json()))
    keyring.retire("audit-v1")
    assert first(verify_chain(old_events, keyring)) == (0, "retired-key")


def test_signature_with_non_audit_key_is_bad_signature():
    events = make_events(2)
    events[0]["sig"] = "v1:ingest-hmac-v1:" + events[0]["sig"].split(":")[2]
    assert first(verify_chain(events, KEYRING)) == (0, "bad-signature")


def test_interleaved_chains_and_global_index():
    a = make_events(4, chain_id="worker-a")
    b = make_events(4, chain_id="worker-b")
    mixed = [a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]]
    report = verify_chain(mixed, KEYRING)
    assert report.ok and set(report.chains) == {"worker-a", "worker-b"}
    without_b1 = [e for e in mixed if e is not b[1]]
    report = verify_chain(without_b1, KEYRING)
    assert report.chains["worker-a"].ok
    failure = report.chains["worker-b"].failure
    assert (failure.index, failure.seq, failure.reason) == (4, 2, "gap")


def test_chain_must_start_at_genesis_unless_told_otherwise():
    events = make_events(6)
    assert first(verify_chain(events[2:], KEYRING)) == (0, "gap")
    assert verify_chain(events[2:], KEYRING, require_genesis=False).ok
    assert first(verify_chain(events[2:3] + events[4:], KEYRING, require_genesis=False)) == (1, "gap")


def test_malformed_and_unchained_events():
    events = make_events(2)
    report = verify_chain([events[0], {"no": "chain"}, events[1]], KEYRING)
    assert report.ok is False and report.unchained[0].index == 1
    assert report.chains["worker-1-p0"].ok
    missing_sig = dict(events[1])
    del missing_sig["sig"]
    assert first(verify_chain([events[0], missing_sig], KEYRING)) == (1, "malformed")
    bool_seq = dict(events[1], seq=True)
    assert first(verify_chain([events[0], bool_seq], KEYRING)) == (1, "malformed")


def test_append_refuses_reserved_fields_and_non_json_without_advancing():
    chain = AuditChain(KEYRING, "w")
    for bad in ({"seq": 5}, {"hash": "x"}, {"chain_id": "other"}, {"v": {1, 2}}, {"v": math.nan}, {"v": object()}):
        with pytest.raises(AuditChainError):
            chain.append(bad)
    assert chain.position == (None, GENESIS_HASH)
    assert chain.append({"ok": True})["seq"] == 0


def test_constructor_validation():
    for kwargs in (
        {"last_seq": 1},
        {"last_hash": "0" * 64},
        {"last_seq": -1, "last_hash": "0" * 64},
        {"last_seq": 1, "last_hash": "xyz"},
    ):
        with pytest.raises(AuditChainError):
            AuditChain(KEYRING, "w", **kwargs)
    with pytest.raises(AuditChainError):
        AuditChain(KEYRING, "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=50, deadline=None)
@given(
    bodies=st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=10).filter(lambda k: k not in {"chain_id", "seq", "prev_hash", "hash", "sig"}),
            json_values,
            max_size=5,
        ),
        max_size=6,
    )
)
def test_property_any_json_events_verify_after_round_trip(bodies):
    chain = AuditChain(KEYRING, "prop")
    events = [chain.append(b) for b in bodies]
    assert verify_chain(round_trip(events), KEYRING).ok


def test_no_key_material_in_events_or_reprs():
    events = make_events(2)
    text = json.dumps(events) + repr(AuditChain(KEYRING, "w"))
    for key in KEYRING:
        assert base64.b64encode(key.material).decode() not in text and key.material.hex() not in text


def test_non_canonical_base64_signature_is_refused():
    events = make_events(1)
    prefix, tag = events[0]["sig"].rsplit(":", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    variant = tag[:-2] + alphabet[alphabet.index(tag[-2]) ^ 0b01] + "="
    assert base64.b64decode(variant) == base64.b64decode(tag)
    events[0]["sig"] = f"{prefix}:{variant}"
    assert first(verify_chain(events, KEYRING)) == (0, "bad-signature")


def test_appended_hash_matches_recomputation_for_non_plain_inputs():
    from pipeline.core.phi_types import PhiType

    chain = AuditChain(KEYRING, "w")
    event = chain.append({"types": (PhiType.SSN, PhiType.NAME), "n": {1: 2.5}, "big": 10**20, "flag": False})
    assert event["hash"] == event_hash(event) == event_hash(json.loads(json.dumps(event)))
    assert verify_chain(round_trip([event]), KEYRING).ok


class _Name(str):
    """A str subclass (an enum-like name): JSON writes its text, and reads back a plain str."""


@settings(max_examples=80, deadline=None)
@given(
    event=st.dictionaries(
        st.sampled_from(["a", "b", "details", "counts"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=5)
        | st.builds(_Name, st.text(max_size=3))
        | st.tuples(st.integers())
        | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), st.integers() | st.text(max_size=3), max_size=3),
    )
)
def test_an_appended_event_is_exactly_what_is_read_back(event):
    """Plain events are copied instead of parsed again: the result must still be the parsed canonical JSON."""
    try:
        appended = AuditChain(Keyring.generate(), "w-0").append(event)
    except AuditChainError:  # keys of mixed types cannot be sorted: refused, as before
        assert any(len({type(k) for k in v}) > 1 for v in event.values() if isinstance(v, dict))
        return
    body = {k: v for k, v in appended.items() if k not in ("hash", "sig")}
    assert _typed(body) == _typed(json.loads(canonical_json(body)))


def _typed(value):
    """The value with every type spelled out (``1 == True`` and ``_Name('a') == 'a'`` would hide a change)."""
    if isinstance(value, dict):
        return {(type(k), k): _typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (type(value), [_typed(v) for v in value])
    return (type(value), value)
