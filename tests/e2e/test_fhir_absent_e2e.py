"""A hospital's Microsoft R4 sample configuration on the worker: Claims and a Contract whose required elements
its rules empty are published (not dead-lettered as invalid output), signed, valid R4, with those elements
written with FHIR's data-absent-reason extension. The embedded broker and one real worker process, the
configuration's JSON taken as the worker's policy as it is."""

from __future__ import annotations

import json

import pytest

from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhir import validate
from pipeline.devtools.inputs import signed_input
from tests.conftest import isolated_settings
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process
from tests.unit.ms_fhir_cases import config_text
from tests.unit.ms_fhir_cases_more_a import CLAIM, CONTRACT, R4_CONFIG
from tests.unit.test_fhir_absent import ABSENT, PHI
from tests.unit.test_fhir_absent import CLAIM as CLAIM_BY_NAME

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

CASES = {"claim": CLAIM, "claim-by-name": CLAIM_BY_NAME, "contract": CONTRACT}


@pytest.fixture(scope="module")
def run(base_settings, broker, keyring, tmp_path_factory):
    folder = tmp_path_factory.mktemp("absent")
    (folder / "r4-configuration-sample.json").write_text(config_text(R4_CONFIG))
    settings = isolated_settings(base_settings, broker, "e2e-absent").with_overrides(
        policy_path=folder / "r4-configuration-sample.json"
    )
    signed = {name: signed_input(keyring, FORMAT_FHIR, json.dumps(r).encode(), name) for name, r in CASES.items()}
    inputs = {message.message_id: name for name, message in signed.items()}
    log = folder / "worker.log"
    with worker_process(settings, log) as worker:
        send(settings, list(signed.values()))
        outputs = read_outputs(settings, set(inputs), timeout=240)
        assert worker.poll() is None, log_tail(log)
    return settings, inputs, outputs, log


def test_claims_and_the_contract_are_published_valid_with_required_elements_absent(run, keyring):
    settings, inputs, outputs, log = run
    assert not [m for m in outputs if m.topic == settings.topic_deadletter], log_tail(log)
    redacted = {inputs[message_id(m)]: m for m in outputs if m.topic == settings.topic_redacted}
    assert set(redacted) == set(CASES), log_tail(log)
    out = {}
    for name, message in redacted.items():
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
        out[name] = json.loads(message.value)
        validate(out[name])
        assert PHI not in message.value.decode()
    claim = out["claim"]
    assert claim["priority"] == ABSENT and claim["item"][0]["productOrService"] == ABSENT
    assert claim["diagnosis"] == [{"sequence": 1, "diagnosisCodeableConcept": ABSENT}]
    assert out["claim-by-name"]["insurance"][0]["coverage"] == ABSENT
    assert out["contract"]["term"][0]["offer"] == ABSENT
