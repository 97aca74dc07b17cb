"""Settings -> Kafka client options, for aiokafka clients and for faust, in one place.

Transmission security (HIPAA 164.312(e)): TLS with certificate verification on by default whenever
the protocol says SSL, mutual TLS when a client certificate is configured, and SASL credentials
passed through unchanged. The embedded broker speaks plaintext only; TLS is tested by placing
stunnel in front of it.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import codec as kafka_codec
from faust.auth import SASLCredentials, SSLCredentials

from pipeline.config import Settings
from pipeline.core.errors import ConfigError

#: Every Kafka compression codec and aiokafka's check that it can read and write it.
CODECS = {
    "gzip": kafka_codec.has_gzip,
    "snappy": kafka_codec.has_snappy,
    "lz4": kafka_codec.has_lz4,
    "zstd": kafka_codec.has_zstd,
}


class MissingCodecError(ConfigError):
    """A Kafka compression codec cannot be read here: a producer's batches in it would stop the consumer."""

    reason = "codec-missing"


def require_codecs() -> None:
    """Refuse to start a Kafka client that could meet a batch it cannot decompress.

    Producers choose the codec (librdkafka and Java clients often default to lz4, snappy or zstd), and a
    consumer that cannot decompress a batch cannot skip it either: it would stop at the same offset after
    every restart. So every codec is checked once, before any client connects.
    """
    missing = [name for name, available in CODECS.items() if not available()]
    if missing:
        raise MissingCodecError(
            f"cannot decompress Kafka batches compressed with {', '.join(missing)}: the codec library is missing; "
            "install it with: pip install 'aiokafka[lz4,snappy,zstd]==0.14.0' (cramjam)"
        )


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying client TLS context, or None for plaintext protocols."""
    if not settings.security_protocol.endswith("SSL"):
        return None
    try:
        context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if settings.ssl_certfile and settings.ssl_keyfile:
            context.load_cert_chain(str(settings.ssl_certfile), str(settings.ssl_keyfile))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot build the TLS client context from PHI_SSL_* files: {exc}") from None
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments shared by aiokafka's producer, consumer and admin client."""
    require_codecs()
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password,
        )
    return options


def compression(settings: Settings) -> str | None:
    """The codec for batches the pipeline writes (aiokafka's ``compression_type``; None: uncompressed)."""
    return None if settings.compression_type == "none" else settings.compression_type


def faust_credentials(settings: Settings) -> SSLCredentials | SASLCredentials | None:
    context = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def faust_broker_url(settings: Settings) -> str:
    return ";".join(f"kafka://{server}" for server in settings.bootstrap_servers.split(","))
