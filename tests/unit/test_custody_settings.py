"""Settings for key custody and the reveal service: transmission security is checked at start."""

from __future__ import annotations

import pytest

from pipeline.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.interfaces.reveal_server import server_tls_context


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"PHI_OPENBAO_ADDR": "http://bao.example:8200"}, "PHI_OPENBAO_ADDR must be https://"),
        ({"PHI_REVEAL_URL": "http://reveal.example:8443"}, "PHI_REVEAL_URL must be an https:// URL"),
        ({"PHI_REVEAL_OIDC_ISSUER": "https://idp"}, "go together"),
        (
            {"PHI_REVEAL_OIDC_ISSUER": "https://idp", "PHI_REVEAL_OIDC_JWKS_URL": "http://idp/certs"},
            "PHI_REVEAL_OIDC_JWKS_URL must be an https:// URL",
        ),
        ({"PHI_OPENBAO_AUTH": "userpass"}, "must be one of approle, kubernetes, token"),
        ({"PHI_OPENBAO_SECRET_ID_FILE": "/nonexistent/secret-id"}, "does not exist"),
    ],
)
def test_custody_and_reveal_settings_refused(env, words):
    with pytest.raises(ConfigError, match=words):
        Settings.from_env({**env, "PHI_RULES_ONLY": "true"})


def test_loopback_http_openbao_is_allowed_for_the_demo_and_tests():
    settings = Settings.from_env({"PHI_OPENBAO_ADDR": "http://127.0.0.1:8200", "PHI_RULES_ONLY": "true"})
    assert settings.openbao_addr == "http://127.0.0.1:8200"
    assert "openbao_token" not in repr(Settings.from_env({"PHI_OPENBAO_TOKEN": "s.secret", "PHI_RULES_ONLY": "true"}))


def test_reveal_service_serves_https_only():
    with pytest.raises(ConfigError, match="HTTPS only"):
        server_tls_context(None, None)
