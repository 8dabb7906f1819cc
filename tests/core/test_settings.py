from __future__ import annotations

import pytest
from pydantic import ValidationError

from assay.core.settings import Settings


def test_zero_config_defaults_live_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/assay.db"
    assert settings.resolved_blob_store_url == (tmp_path / "blobs").as_uri()


def test_environment_variables_use_the_assay_prefix(monkeypatch):
    monkeypatch.setenv("ASSAY_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ASSAY_WEBHOOK_DENY", '["10.0.0.0/8"]')
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.outbound_deny == ["10.0.0.0/8"]  # the old name of ASSAY_OUTBOUND_DENY


def test_default_secret_is_refused_in_production(monkeypatch):
    monkeypatch.setenv("ASSAY_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="ASSAY_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("ASSAY_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("ASSAY_SECRET_KEY", "x" * 40)
    assert Settings().environment == "production"


def test_secret_is_not_shown_in_repr():
    assert "assay-development-secret" not in repr(Settings())


def test_every_setting_is_documented():
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == []
