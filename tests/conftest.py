"""Shared AWS fixtures: moto in-process for unit tests, a moto server for multi-process tests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from job.core import clients

REGION = "us-east-1"
EVENTS = Path(__file__).parent / "events"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "exif-samples"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region for every test, and no real endpoint is ever reachable."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    clients.reset()
    yield
    clients.reset()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in this process, for logic that only needs AWS answers."""
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}, "lambda": {"use_docker": False}}):
        yield


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """One moto HTTP server for the session, for tests whose child processes must share one AWS."""
    from job.demo.emulator import MOTO_CONFIG, start_server

    server, url = start_server()
    request = urllib.request.Request(
        f"{url}/moto-api/config", data=json.dumps(MOTO_CONFIG).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()
    yield url
    server.stop()


@pytest.fixture
def moto_server(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto server for this test, with AWS_ENDPOINT_URL pointing at it."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST"), timeout=10
    ).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    clients.reset()
    yield moto_server_url


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared third-party camera images; the test is skipped where they are absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"EXIF corpus not found at {CORPUS} (it ships beside the repository in CI only)")
    return CORPUS


@pytest.fixture
def fault_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto behind tests/faults.py (latency, quotas, injected errors, call counts), AWS_ENDPOINT_URL set."""
    from tests.faults import FaultServer

    server = FaultServer().start()
    server.reset_moto()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    clients.reset()
    yield server
    server.stop()
    clients.reset()
