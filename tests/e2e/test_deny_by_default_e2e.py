"""Issue 24's reproductions on the worker: the embedded broker, one real worker process, signed outputs.

HL7 v2 fields no rule foresaw, several messages in one MLLP-framed batch, FHIR elements no rule foresaw,
narrative links and split names, a birth year alone at 90+, the 10,000-repetition (80 KB) message, and a
message past the text budget: none leaks, the HL7 output is carriage-return separated, the repetition
message comes out, the oversized one is dead-lettered (``text-too-large``) and the partition goes on.
"""

from __future__ import annotations

import json
import time

import pytest

from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2
from pipeline.devtools.inputs import signed_input
from pipeline.devtools.leaks import PROTECTED_BLOB
from pipeline.stream.clients import decode_output
from tests.conftest import isolated_settings
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process
from tests.unit.test_deny_by_default import FHIR_LEAKS, HL7_LEAKS, MSH, NAME, PHONE, PLANTED

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

TEXT_LIMIT = 100_000


def _inputs(keyring) -> dict[str, tuple[object, str]]:
    hl7_all = MSH + "".join(HL7_LEAKS.values())
    second = f"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C2|P|2.3\rNTE|1||call {NAME} at {PHONE}\r"
    framed = f"\x0b{MSH}PID|1||M1||X||||||||||||||||{NAME}\r\x1c\r\x0b{second}\x1c\r"
    narrative = {
        "resourceType": "Patient",
        "birthDate": "1930",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Gle</b>nn Whitaker '
            f'<a href="mailto:{NAME.replace(" ", ".")}@example.com">mail</a></p></div>',
        },
    }
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in FHIR_LEAKS.values()]}
    head = "MSH|^~\\&|A|B|C|D|20230105||ORU^R01|C9|P|2.5\rPID|1||M1||DOE^JANE\r"
    repeated = head + "NTE|1||" + "~".join(["Dr Hale"] * 10_000) + "\r"
    too_large = head + "NTE|1||" + "word " * (TEXT_LIMIT // 4) + "\r"
    cases = {
        "hl7-fields": (FORMAT_HL7V2, hl7_all),
        "hl7-framed": (FORMAT_HL7V2, framed),
        "fhir-bundle": (FORMAT_FHIR, json.dumps(bundle)),
        "fhir-narrative": (FORMAT_FHIR, json.dumps(narrative)),
        "repeated-80k": (FORMAT_HL7V2, repeated),
        "too-large": (FORMAT_HL7V2, too_large),
    }
    out = {}
    for name, (schema, text) in cases.items():
        signed = signed_input(keyring, schema, text.encode(), name)
        out[signed.message_id] = (signed, name)
    return out


@pytest.fixture(scope="module")
def run(base_settings, broker, keyring, tmp_path_factory):
    settings = isolated_settings(base_settings, broker, "e2e-deny")
    inputs = _inputs(keyring)
    log = tmp_path_factory.mktemp("deny") / "worker.log"
    with worker_process(settings, log, PHI_MAX_TEXT_CHARS=str(TEXT_LIMIT)) as worker:
        started = time.perf_counter()
        send(settings, [signed for signed, _ in inputs.values()])
        outputs = read_outputs(settings, set(inputs), timeout=300, audit_events=len(inputs))
        elapsed = time.perf_counter() - started
        assert worker.poll() is None, log_tail(log)
    return settings, inputs, outputs, elapsed


def test_nothing_planted_leaves_the_worker_and_hl7_is_cr_separated(run, keyring, registry):
    settings, inputs, outputs, _ = run
    redacted = {inputs[message_id(m)][1]: m for m in outputs if m.topic == settings.topic_redacted}
    assert set(redacted) == {"hl7-fields", "hl7-framed", "fhir-bundle", "fhir-narrative", "repeated-80k"}
    for name, message in redacted.items():
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
        text = message.value.decode()
        # Tokens, pseudonyms and ciphertexts are long runs of random base64 or hex: a short planted fragment
        # ('Gle') turns up inside one by chance (as the leak scanner knows), so they are set aside as it does.
        visible = PROTECTED_BLOB.sub(" ", text)
        left = [v for v in (*PLANTED, "1EG4TE5MK73", "WHITAKER", "Hale", "Gle", "mailto") if v in visible]
        assert not left, (name, left)
        if name.startswith(("hl7", "repeated")):
            assert "\n" not in text and text.endswith("\r")
    assert [line[:3] for line in redacted["hl7-framed"].value.decode().split("\r") if line] == [
        "MSH",
        "PID",
        "MSH",
        "NTE",
    ]
    assert "birthDate" not in json.loads(redacted["fhir-narrative"].value)
    for message in outputs:  # no planted value in a dead letter or an audit event either
        decoded = json.dumps(decode_output(registry, message), default=str)
        assert not [v for v in PLANTED if v in decoded]


def test_the_oversized_text_is_a_dead_letter_and_the_partition_goes_on(run, registry):
    settings, inputs, outputs, elapsed = run
    dead = [m for m in outputs if m.topic == settings.topic_deadletter]
    assert [(inputs[message_id(m)][1], decode_output(registry, m)["reason"]) for m in dead] == [
        ("too-large", "text-too-large")
    ]
    audits = [decode_output(registry, m) for m in outputs if m.topic == settings.topic_audit]
    processed = [a for a in audits if a["event_type"] == "message_processed"]
    assert len(processed) == 5 and all(int(a["details"]["leaves_detected"]) >= 1 for a in processed)
    assert elapsed < 240, elapsed  # the 80 KB repetition message included, on a busy 2-core runner
