"""Prometheus metrics and the /metrics, /healthz and /readyz endpoints.

Naming follows Prometheus conventions (``phi_`` prefix, ``_total`` counters, ``_seconds``
histograms). Labels hold only closed vocabularies (stage, outcome, reason code, PHI type, detector,
role): never a value from a message, so the metrics endpoint cannot leak PHI.
"""

from __future__ import annotations

import hmac
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pipeline import __version__
from pipeline.core.crypto.integrity import SignatureError
from pipeline.core.errors import PipelineError, ProcessingFailed, RejectedMessage
from pipeline.core.roles import Outcome

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


#: The stage where each dead-letter reason arises (decode otherwise); ``processing-error`` in any of STAGES.
_REASON_STAGE = {"empty": "ingest", "oversized": "ingest", "invalid-field": "protect", "output-too-large": "emit",
                 "output-rejected": "emit", "output-invalid": "emit"}  # fmt: skip
STAGES = ("verify", "ingest", "decode", "protect", "detect", "classify", "emit")
SUMMARY_OUTCOMES = ("generated", "extractive_fallback", "skipped", "error")


def _reasons(base: type[PipelineError]) -> list[str]:
    """The reason codes of every subclass of ``base``, not its own (a generic one that is never raised)."""
    found: list[str] = []
    for cls in base.__subclasses__():
        found.extend([cls.reason, *_reasons(cls)])
    return sorted(set(found))


def hmac_failure_reasons() -> list[str]:
    return _reasons(SignatureError)


def dead_letter_labels() -> list[tuple[str, str]]:
    """Every (reason, stage) a dead letter can carry."""
    pairs = [(reason, "verify") for reason in hmac_failure_reasons()]
    pairs += [(r, _REASON_STAGE.get(r, "decode")) for r in _reasons(RejectedMessage) if r != ProcessingFailed.reason]
    return pairs + [(ProcessingFailed.reason, stage) for stage in STAGES]


class PipelineMetrics:
    """Every metric the worker exports, on a registry of its own (tests can make several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("phi_messages", "Messages by stage and outcome", ["stage", "outcome"], registry=r)
        self.entities = Counter(
            "phi_entities", "PHI entities found, by type and detector", ["phi_type", "detector"], registry=r
        )
        self.hmac_failures = Counter("phi_hmac_failures", "Inputs failing HMAC verification", ["reason"], registry=r)
        self.dead_letters = Counter(
            "phi_dead_letters", "Dead letters by reason and stage", ["reason", "stage"], registry=r
        )
        self.stage_seconds = Histogram(
            "phi_stage_seconds", "Time per batch in each stage", ["stage"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.model_seconds = Histogram(
            "phi_model_inference_seconds",
            "Model inference time per batch",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "phi_batch_size", "Messages per processed batch", buckets=_BATCH_BUCKETS, registry=r
        )
        self.reveals = Counter("phi_reveals", "Reveal attempts by role and outcome", ["role", "outcome"], registry=r)
        self.reveal_sessions = Counter(
            "phi_reveal_sessions", "Reveal-service logins and logouts by outcome", ["outcome"], registry=r
        )
        self.summaries = Counter("phi_summaries", "Summaries by outcome", ["outcome"], registry=r)
        self.sensitive_records = Counter(
            "phi_sensitive_records",
            "Records with a sensitive category found, by category and the record's action",
            ["category", "action"],
            registry=r,
        )
        self.build_info = Gauge(
            "phi_build_info",
            "Version, models and execution provider",
            ["version", "detector_model", "summarizer_model", "execution_provider"],
            registry=r,
        )
        self.gpu_expected = Gauge("phi_gpu_expected", "1 when the deployment asked for a GPU provider", registry=r)
        self.consumer_lag = Gauge(
            "phi_consumer_lag_messages", "Input messages not yet processed", ["topic", "partition"], registry=r
        )
        self.last_progress = Gauge("phi_last_progress_timestamp_seconds", "When the last batch finished", registry=r)

    def prime_worker(self, redaction: bool, summaries: bool) -> None:
        """Create every known label value at zero, so that ``rate()`` and ``increase()`` see the first event
        of each (a series born at 1 has no earlier sample to count from, and alerts would miss it)."""
        if redaction:
            self.messages.labels("emit", Outcome.OK.value)
            for reason, stage in dead_letter_labels():
                self.dead_letters.labels(reason, stage)
                self.messages.labels(stage, Outcome.DEADLETTER.value)
            for reason in hmac_failure_reasons():
                self.hmac_failures.labels(reason)
        for outcome in SUMMARY_OUTCOMES if summaries else ():
            self.summaries.labels(outcome)

    def prime_reveal(self, roles: list[str], reveal_outcomes: list[str], session_outcomes: list[str]) -> None:
        """The reveal service's counters at zero for every role and outcome (``PhiRevealBreakGlass`` must see
        the first break-glass reveal of a role)."""
        for role in roles:
            for outcome in reveal_outcomes:
                self.reveals.labels(role, outcome)
        for outcome in session_outcomes:
            self.reveal_sessions.labels(outcome)

    def set_build_info(self, detector_model: str, summarizer_model: str, provider: str, gpu_expected: bool) -> None:
        self.build_info.labels(__version__, detector_model, summarizer_model, provider).set(1)
        self.gpu_expected.set(1 if gpu_expected else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """A small aiohttp server for the metrics and probes, with an optional bearer token."""

    def __init__(
        self,
        metrics: PipelineMetrics,
        bind: str,
        port: int,
        token: str = "",
        ready: Callable[[], tuple[bool, str]] = lambda: (True, "ready"),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.metrics = metrics
        self.bind = bind
        self.port = port
        self.token = token
        self.ready = ready
        self.tls = tls
        self.started = time.time()
        self._runner: web.AppRunner | None = None

    def _authorized(self, request: web.Request) -> bool:
        if not self.token:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    async def _metrics(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="bearer token required\n")
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        # Probes stay open (kubelet sends no token) and say nothing about data: state words only.
        ok, why = self.ready()
        return web.Response(status=200 if ok else 503, text=why + "\n")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind, self.port, ssl_context=self.tls)
        await site.start()
        log.info("metrics and health endpoints on %s://%s:%d", "https" if self.tls else "http", self.bind, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def server_tls(certfile: Path | None, keyfile: Path | None) -> ssl.SSLContext | None:
    """A TLS context for the metrics endpoints when a certificate is configured (PHI_METRICS_TLS_*)."""
    if certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    return context
