"""`assay serve` refuses the development secret when it would listen beyond loopback."""

from __future__ import annotations

import pytest

from assay.core.settings import DEFAULT_SECRET, Settings, is_loopback
from tests.support.postgres import free_port
from tests.support.servers import LiveServer, Process, env_for


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "assay.example.test"])
def test_the_development_secret_is_refused_beyond_loopback(tmp_path, host):
    """Refused before the database is opened or a port bound (no database needed here)."""
    settings = Settings(data_dir=tmp_path / "data")
    server = Process(
        ["serve", "--host", host, "--port", str(free_port())],
        env_for(settings, ASSAY_SECRET_KEY=DEFAULT_SECRET),
        tmp_path / "serve.log",
    )
    try:
        assert server.proc.wait(60) == 2
    finally:
        server.stop()
    said = " ".join(server.output().split())
    assert f"refusing to listen on {host} with the development secret key" in said
    assert "ASSAY_SECRET_KEY" in said and "127.0.0.1" in said


def test_the_development_secret_is_fine_on_loopback(settings, tmp_path):
    server = LiveServer(settings, tmp_path / "serve.log", ASSAY_SECRET_KEY=DEFAULT_SECRET)
    server.stop()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.test", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback
