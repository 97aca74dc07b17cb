"""A command's settings and keys: validated ``PHI_*`` settings with logging configured, and the keyring in
memory (a plain file, or unwrapped through OpenBao). The content path is assembled from them by
:mod:`pipeline.runtime.assembly`.

Every failure here is a configuration problem an operator can fix, so each is raised as a
:class:`ConfigError` naming the setting to change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from pipeline.core.errors import ConfigError
from pipeline.interfaces.logs import configure_logging
from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit

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
