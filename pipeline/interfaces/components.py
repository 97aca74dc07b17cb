"""Assemble a worker's parts from settings: keyring, schemas, detector, processor.

Every failure here is a configuration problem an operator can fix, so each is raised as a
:class:`ConfigError` naming the setting to change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.core.crypto.custody import (
    WORKLOAD_PURPOSES,
    KmsError,
    KmsUnavailableError,
    Workload,
    WrappedKeyring,
    load_keyring_document,
    verify_custody,
)
from pipeline.core.crypto.keyring import Keyring, KeyringError
from pipeline.core.errors import ConfigError, SchemaError
from pipeline.core.policy import load_policy
from pipeline.core.policy.avro import check_avro_rules
from pipeline.core.policy.detector import PolicyDetector
from pipeline.core.processing import RecordProcessor
from pipeline.core.schemas import SchemaRegistry
from pipeline.core.sensitive import NoteClassifier, SensitivePolicy
from pipeline.core.summary_processing import AgentAuditTrail, SummaryProcessor
from pipeline.interfaces.logs import configure_logging
from pipeline.runtime.detectors import build_detector
from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit

if TYPE_CHECKING:
    from pipeline.runtime.summarizer import Generation

log = logging.getLogger(__name__)


def load_settings() -> Settings:
    """The ``PHI_*`` settings, validated, with logging set to their level: the first step of every command
    that talks to Kafka, so a wrong setting stops it before anything connects and logs are configured once."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return settings


def load_keyring(settings: Settings, workload: str = Workload.WORKER) -> Keyring:
    """The keyring in memory: unwrapped through OpenBao for a wrapped file, read as is for a plain one."""
    return open_keyring(settings, workload).keyring


@dataclass(frozen=True)
class KeyCustody:
    """Where this process's keys came from: a wrapped file and the KMS that unwrapped it, or neither."""

    keyring: Keyring
    wrapped: WrappedKeyring | None = None
    kms: OpenBaoTransit | None = None

    def check(self) -> None:
        """Raise a :class:`KmsError` if the KMS no longer unwraps this process's keys (policy revoked)."""
        if self.wrapped is not None and self.kms is not None:
            verify_custody(self.wrapped, self.keyring, self.kms)


def openbao_transit(settings: Settings) -> OpenBaoTransit:
    """The OpenBao client for this workload from the PHI_OPENBAO_* settings (not logged in yet)."""
    if not settings.openbao_addr:
        raise ConfigError("the keyring is wrapped by OpenBao: set PHI_OPENBAO_ADDR (and how to log in)")
    secret_id = ""
    if settings.openbao_secret_id_file is not None:
        try:
            secret_id = settings.openbao_secret_id_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"PHI_OPENBAO_SECRET_ID_FILE cannot be read ({exc.strerror})") from None
    return OpenBaoTransit(
        OpenBaoConfig(
            addr=settings.openbao_addr,
            auth=settings.openbao_auth,
            role_id=settings.openbao_role_id,
            secret_id=secret_id,
            token=settings.openbao_token,
            kubernetes_role=settings.openbao_kubernetes_role,
            mount=settings.openbao_transit_mount,
            cacert=settings.openbao_cacert,
        )
    )


def open_keyring(settings: Settings, workload: str = Workload.WORKER) -> KeyCustody:
    """Read the keyring for ``workload`` (which purposes it needs: :data:`WORKLOAD_PURPOSES`).

    A wrapped keyring is unwrapped through OpenBao with this workload's credentials: a refusal there (a
    revoked policy, a bad secret id) stops the process here with the KMS's reason. A plain keyring is the
    embedded demo's, and the log says so.
    """
    purposes = WORKLOAD_PURPOSES[workload]
    try:
        if settings.keyring_path is not None:
            document = load_keyring_document(settings.keyring_path)
        elif settings.keyring:
            document = Keyring.from_env(environ={"PHI_KEYRING": settings.keyring})
        else:
            raise ConfigError(
                "no keyring configured: set PHI_KEYRING_PATH to a keyring file "
                "(create one with `phi-pipeline keys init --path keyring.json`)"
            )
        if isinstance(document, WrappedKeyring):
            kms = openbao_transit(settings)
            custody = KeyCustody(document.unwrap(kms, purposes), document, kms)
            log.info(
                "keyring: wrapped by OpenBao transit at %s (%d keys unwrapped in memory for the %s workload)",
                settings.openbao_addr,
                len(custody.keyring),
                workload,
            )
        else:
            custody = KeyCustody(document)
            log.warning("keyring: PLAIN FILE KEYRING (keys in clear; for the embedded demo and tests only)")
        for purpose in purposes:
            custody.keyring.current(purpose)
    except KmsUnavailableError:
        raise
    except (KeyringError, KmsError) as exc:
        raise ConfigError(f"keyring: {exc}") from None
    return custody


def load_schemas(settings: Settings) -> SchemaRegistry:
    try:
        registry = SchemaRegistry.load(settings.schema_dir)
        registry.get(settings.input_schema)
    except SchemaError as exc:
        raise ConfigError(f"schemas (PHI_SCHEMA_DIR / PHI_INPUT_SCHEMA): {exc}") from None
    return registry


def build_processor(settings: Settings, keyring: Keyring | None = None) -> RecordProcessor:
    """Keyring, schemas, then the detector (rules alone only when PHI_RULES_ONLY asks for it): each refuses
    with a :class:`ConfigError` naming what to fix, before anything connects to Kafka."""
    keyring = keyring or load_keyring(settings)
    registry = load_schemas(settings)
    detector = build_detector(
        None if settings.rules_only else settings.detector_model,
        provider=settings.execution_provider,
        threads=settings.inference_threads or None,
    )
    policy = load_policy(settings.policy_path)  # PolicyFileError (a ConfigError) lists every problem
    check_avro_rules(policy, registry)
    return RecordProcessor(
        registry=registry,
        keyring=keyring,
        detector=PolicyDetector(detector, policy) if policy.changes_detection else detector,
        worker_id=settings.worker_id,
        max_message_bytes=settings.max_message_bytes,
        default_schema=settings.input_schema,
        policy=policy,
        classifier=build_sensitive_classifier(settings),
        # The policy file's sensitive: section wins over PHI_SENSITIVE_POLICY for the categories it names.
        sensitive_policy=SensitivePolicy({**settings.sensitive_policy.actions, **policy.sensitive}),
    )


def build_sensitive_classifier(settings: Settings) -> NoteClassifier | None:
    """The sensitive-category classifier (None when PHI_SENSITIVE_CLASSIFIER=false); a missing or unreadable
    model stops the worker with a :class:`ConfigError`, never a silent pass-through of sensitive notes."""
    if not settings.sensitive_classifier:
        return None
    from pipeline.runtime.sensitive_classifier import build_classifier

    return build_classifier(
        settings.sensitive_model, provider=settings.execution_provider, threads=settings.inference_threads or None
    )


def build_summary_processor(settings: Settings, processor: RecordProcessor) -> SummaryProcessor:
    """The summary agent's core: the generator when a model folder is configured, the section-aware
    extractive summarizer when PHI_SUMMARIZER=extractive asks for it; neither is a :class:`ConfigError`
    (summaries never turn extractive silently)."""
    generate = None
    model_name = None
    if settings.summarizer_model is None and settings.summarizer != "extractive":
        raise ConfigError(
            "summaries need a method: set PHI_SUMMARIZER=extractive for the section-aware extractive summaries, "
            "or PHI_SUMMARIZER_MODEL to a built summarizer (`phi-pipeline model build-summarizer`)"
        )
    if settings.summarizer_model is not None:
        from pipeline.runtime.summarizer import OnnxSummarizer

        summarizer = OnnxSummarizer(
            settings.summarizer_model,
            provider=settings.execution_provider,
            threads=settings.inference_threads or None,
            batch_size=settings.summary_batch_size,
        )
        model_name = f"smollm2-135m-instruct/{settings.summarizer_model.name}"

        def generate(texts: Sequence[str]) -> list[Generation]:
            return summarizer.summarize_batch(texts, max_new_tokens=settings.summary_max_new_tokens)

    return SummaryProcessor(
        registry=processor.registry,
        keyring=processor.keyring,
        detector=processor.detector,
        audit=AgentAuditTrail.for_agent(
            processor.keyring, processor.registry, processor.worker_id, processor.run_id, "summarize"
        ),
        generate=generate,
        model_name=model_name,
    )
