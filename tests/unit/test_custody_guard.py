"""The custody decision (issue 28): a bounded grace for silence, none for a seal or a refusal; and the
one-time TOTP step rule the reveal service keeps across replicas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from pipeline.config import Settings
from pipeline.core.access.reveal import User, match_totp
from pipeline.core.access.sessions import MemoryTotpSteps, StepRecord, step_allowed
from pipeline.core.crypto.custody import KmsPermissionError, KmsSealedError, KmsUnavailableError
from pipeline.core.errors import ConfigError
from pipeline.stream.custody_watch import CustodyGuard, CustodyLostError, exit_code

SILENT = KmsUnavailableError("OpenBao did not answer")


def guard_at(clock: list[float], grace: float = 10.0) -> CustodyGuard:
    return CustodyGuard(grace, "worker", clock=lambda: clock[0])


def test_silence_is_borne_for_the_grace_then_custody_is_lost_for_good():
    clock = [100.0]
    guard = guard_at(clock)
    assert guard.observe(SILENT) is None
    clock[0] = 109.9
    assert guard.observe(SILENT) is None
    clock[0] = 110.0
    lost = guard.observe(SILENT)
    assert isinstance(lost, CustodyLostError) and "PHI_CUSTODY_GRACE_SECONDS=10" in str(lost)
    assert exit_code(lost) == 69
    assert guard.observe(None) is lost  # never regained in the same process


def test_an_answer_restarts_the_grace():
    clock = [0.0]
    guard = guard_at(clock)
    guard.observe(SILENT)
    clock[0] = 9.0
    assert guard.observe(None) is None
    clock[0] = 15.0
    assert guard.observe(SILENT) is None  # a new silence, counted from here
    clock[0] = 24.9
    assert guard.observe(SILENT) is None and guard.lost is None


def test_a_seal_or_a_refusal_stops_at_once():
    sealed, denied = KmsSealedError("sealed"), KmsPermissionError("policy revoked")
    for error, code in ((sealed, 69), (denied, 77)):
        guard = guard_at([0.0])
        assert guard.observe(error) is error and guard.lost is error
        assert exit_code(error) == code


def test_a_step_opens_one_session_and_confirms_only_that_sessions_reveals():
    assert step_allowed(None, 5, "s1")
    last = StepRecord(5, "s1")
    assert step_allowed(last, 5, "s1") and step_allowed(last, 6, "s2")
    assert not step_allowed(last, 5, "s2") and not step_allowed(last, 4, "s1")
    steps = MemoryTotpSteps()
    assert steps.claim("alice", 5, "s1") and steps.claim("alice", 5, "s1")
    assert not steps.claim("alice", 5, "s2") and not steps.claim("alice", 4, "s3")
    assert steps.claim("bob", 5, "s2")  # per user


def test_match_totp_names_the_step_of_the_code():
    secret = pyotp.random_base32()
    user = User("alice", frozenset({"r"}), secret)
    now = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    assert match_totp(user, totp.at(now), now) == (step, None)
    assert match_totp(user, totp.at(now - timedelta(seconds=30)), now) == (step - 1, None)
    assert match_totp(user, totp.at(now - timedelta(seconds=90)), now) == (None, "totp-invalid")
    assert match_totp(user, None, now) == (None, "totp-missing")


def test_the_grace_must_hold_at_least_one_check():
    assert Settings.from_env({}).custody_grace_seconds == 180.0
    with pytest.raises(ConfigError, match="PHI_CUSTODY_GRACE_SECONDS must be at least PHI_OPENBAO_CHECK_INTERVAL"):
        Settings.from_env({"PHI_CUSTODY_GRACE_SECONDS": "5", "PHI_OPENBAO_CHECK_INTERVAL": "10"})
    with pytest.raises(ConfigError, match="PHI_CUSTODY_GRACE_SECONDS"):
        Settings.from_env({"PHI_CUSTODY_GRACE_SECONDS": "0"})
