"""A TLS handshake with each bootstrap server before any Kafka client starts, for errors a person can act on.

Kafka clients report a failed handshake as a generic connection error after retrying for a while; an
operator then cannot tell an untrusted CA from an expired certificate from a broker that speaks
plaintext. One direct handshake, with the same context the clients will use, names the cause.
"""

from __future__ import annotations

import socket
import ssl

from pipeline.config import Settings
from pipeline.core.errors import PipelineError
from pipeline.stream.kafka_options import ssl_context


class TransportSecurityError(PipelineError):
    """A TLS connection to the broker could not be established; the message says why."""


def tls_preflight(settings: Settings, timeout: float = 10.0) -> list[str]:
    """Handshake with every bootstrap server; returns 'host:port TLSv1.3' lines. No-op for plaintext."""
    context = ssl_context(settings)
    if context is None:
        return []
    verified = []
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.rpartition(":")
        try:
            with (
                socket.create_connection((host, int(port)), timeout=timeout) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                tls.do_handshake()
                # TLS 1.3 servers judge the client certificate after the handshake: a rejection arrives
                # as an alert on the first read, while an accepted client just hears nothing.
                tls.settimeout(0.5)
                try:
                    tls.recv(1)
                except TimeoutError:
                    pass
                verified.append(f"{server} {tls.version()}")
        except ssl.SSLCertVerificationError as exc:
            raise TransportSecurityError(
                f"TLS to {server}: the broker's certificate is not trusted ({exc.verify_message}); "
                "check PHI_SSL_CAFILE names the CA that signed it and that the host name matches"
            ) from None
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            hint = {
                "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the broker rejected our client certificate: it has expired",
                "TLSV1_ALERT_UNKNOWN_CA": "the broker does not trust the CA of our client certificate",
                "SSLV3_ALERT_BAD_CERTIFICATE": "the broker rejected our client certificate",
                "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the broker requires a client certificate (PHI_SSL_CERTFILE)",
                "WRONG_VERSION_NUMBER": "the broker answered in plaintext: is this its TLS port?",
            }.get(reason, "see the broker's log for its side of the handshake")
            raise TransportSecurityError(f"TLS to {server} failed: {reason}: {hint}") from None
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise TransportSecurityError(f"TLS to {server}: cannot connect ({exc.__class__.__name__})") from None
    return verified
