from pathlib import Path

import pytest

from pipeline.config import SETTINGS, Settings, settings_table, settings_to_env
from pipeline.core.errors import ConfigError


def test_defaults_are_valid():
    settings = Settings.from_env({})
    assert settings.topic_ingest == "phi.ingest"
    assert settings.partitions == 4
    assert settings.security_protocol == "PLAINTEXT"


def test_every_bad_setting_is_reported_at_once():
    env = {
        "PHI_PARTITIONS": "many",
        "PHI_METRICS_PORT": "70000",
        "PHI_SECURITY_PROTOCOL": "TLS",
        "PHI_BOOTSTRAP_SERVERS": "localhost",
        "PHI_TOPIC_AUDIT": "bad topic!",
        "PHI_SUMARIZER_ENABLED": "true",
    }
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    text = str(info.value)
    for name in (
        "PHI_PARTITIONS",
        "PHI_METRICS_PORT",
        "PHI_SECURITY_PROTOCOL",
        "PHI_BOOTSTRAP_SERVERS",
        "PHI_TOPIC_AUDIT",
        "PHI_SUMARIZER_ENABLED",
    ):
        assert name in text


def test_sasl_needs_credentials_and_secrets_are_hidden():
    with pytest.raises(ConfigError, match="PHI_SASL_USERNAME"):
        Settings.from_env({"PHI_SECURITY_PROTOCOL": "SASL_SSL"})
    settings = Settings.from_env(
        {"PHI_SECURITY_PROTOCOL": "SASL_SSL", "PHI_SASL_USERNAME": "svc", "PHI_SASL_PASSWORD": "hunter2-secret"}
    )
    assert "hunter2-secret" not in repr(settings)
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"PHI_SASL_PASSWORD": "x", "PHI_PARTITIONS": "0", "PHI_KEYRING": "k"})
    assert "hunter2" not in str(info.value)


def test_tls_files_must_exist_and_pair(tmp_path: Path):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="set both or neither"):
        Settings.from_env({"PHI_SECURITY_PROTOCOL": "SSL", "PHI_SSL_CERTFILE": str(cert)})
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.from_env({"PHI_SECURITY_PROTOCOL": "SSL", "PHI_SSL_CAFILE": str(tmp_path / "missing.pem")})


def test_duplicate_topics_rejected():
    with pytest.raises(ConfigError, match="must all be different"):
        Settings.from_env({"PHI_TOPIC_AUDIT": "phi.ingest"})


def test_round_trip_through_environment():
    environ = {"PHI_PARTITIONS": "8", "PHI_SUMMARIZER_ENABLED": "yes", "PHI_SUMMARIZER": "extractive"}
    settings = Settings.from_env(environ)
    again = Settings.from_env(settings_to_env(settings))
    assert again == settings


def test_summaries_never_turn_extractive_silently(tmp_path):
    with pytest.raises(ConfigError, match="PHI_SUMMARIZER=extractive"):
        Settings.from_env({"PHI_SUMMARIZER_ENABLED": "true"})
    extractive = Settings.from_env({"PHI_SUMMARIZER_ENABLED": "true", "PHI_SUMMARIZER": "extractive"})
    assert extractive.summarizer == "extractive"
    with pytest.raises(ConfigError, match="choose one"):
        Settings.from_env({"PHI_SUMMARIZER": "extractive", "PHI_SUMMARIZER_MODEL": str(tmp_path)})
    with pytest.raises(ConfigError, match="needs PHI_SUMMARIZER_MODEL"):
        Settings.from_env({"PHI_SUMMARIZER": "generated"})
    with pytest.raises(ConfigError, match="PHI_SUMMARIZER"):
        Settings.from_env({"PHI_SUMMARIZER": "abstractive"})
    generated = Settings.from_env({"PHI_SUMMARIZER_ENABLED": "true", "PHI_SUMMARIZER_MODEL": str(tmp_path)})
    assert generated.summarizer == ""  # a model folder alone means the generator


def test_table_lists_every_setting():
    table = settings_table()
    assert all(s.env in table for s in SETTINGS)


def test_readme_configuration_table_is_current():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme


def test_keyring_and_tokens_never_in_settings_repr():
    from pipeline.core.crypto.keyring import Keyring

    keyring_json = Keyring.generate().to_json()
    settings = Settings.from_env({"PHI_KEYRING": keyring_json, "PHI_METRICS_TOKEN": "tok-abcdef-123456"})
    shown = repr(settings) + str(settings)
    assert "material" not in shown and "tok-abcdef-123456" not in shown
    assert keyring_json[:40] not in shown


def test_each_setting_is_declared_once_on_its_settings_field():
    """SETTINGS (validation, README table, child environments) is read from the Settings fields themselves."""
    from dataclasses import fields

    names = [f.name for f in fields(Settings)]
    assert [s.name for s in SETTINGS] == names
    assert len(set(names)) == len(names)
    assert {f.name for f in fields(Settings) if not f.repr} == {s.name for s in SETTINGS if s.secret}
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)
