"""Known label values exist at zero before their first event (issue 28): a counter series born at 1 has no
earlier sample, so ``rate()`` and ``increase()`` miss its first event and an alert such as
PhiRevealBreakGlass would stay silent (monitoring/alerts.test.yaml shows both cases)."""

from __future__ import annotations

import re

from pipeline.core.access.reveal import OUTCOMES
from pipeline.stream.metrics import PipelineMetrics, dead_letter_labels

#: The dead-letter reasons the README documents (Message contract), HMAC and message-id ones apart.
HMAC_REASONS = {"hmac-missing", "hmac-malformed", "hmac-unknown-key", "hmac-retired-key", "hmac-wrong-purpose",
                "hmac-mismatch", "hmac-schema-unsigned", "message-id-missing", "message-id-invalid"}  # fmt: skip
OTHER_REASONS = {"empty", "oversized", "undecodable", "invalid-utf8", "invalid-unicode", "invalid-json",
                 "number-too-large", "schema-unknown", "schema-mismatch", "invalid-field", "processing-error",
                 "output-too-large", "output-rejected", "invalid-hl7", "invalid-fhir", "output-invalid"}  # fmt: skip


def test_every_dead_letter_reason_and_hmac_failure_is_exported_at_zero():
    metrics = PipelineMetrics()
    metrics.prime_worker(redaction=True, summaries=True)
    text = metrics.render().decode()
    assert {reason for reason, _ in dead_letter_labels()} >= HMAC_REASONS | OTHER_REASONS
    for reason, stage in dead_letter_labels():
        assert f'phi_dead_letters_total{{reason="{reason}",stage="{stage}"}} 0.0' in text
        assert f'phi_messages_total{{outcome="deadletter",stage="{stage}"}} 0.0' in text
    for reason in HMAC_REASONS:
        assert f'phi_hmac_failures_total{{reason="{reason}"}} 0.0' in text
    assert 'phi_messages_total{outcome="ok",stage="emit"} 0.0' in text
    assert 'phi_summaries_total{outcome="extractive_fallback"} 0.0' in text
    assert not re.search(r"^phi_\w+_total\{[^}]*\} [1-9]", text, re.M)


def test_every_role_and_outcome_of_the_reveal_service_is_exported_at_zero():
    metrics = PipelineMetrics()
    metrics.prime_reveal(["billing", "emergency-physician"], list(OUTCOMES), ["allowed", "denied-mfa"])
    text = metrics.render().decode()
    assert 'phi_reveals_total{outcome="allowed-break-glass",role="emergency-physician"} 0.0' in text
    assert 'phi_reveals_total{outcome="unavailable",role="billing"} 0.0' in text
    assert 'phi_reveal_sessions_total{outcome="denied-mfa"} 0.0' in text
    assert "phi_dead_letters_total{" not in text  # a reveal service exports no worker series
