"""Fixtures the operator commands' tests share."""

from __future__ import annotations

import pytest

from job.core import errors
from job.demo import vector_search
from job.worker import run
from tests.job.worker.test_embedding_run import IMAGES, _config, _upload_model
from tests.job.worker_helpers import world


@pytest.fixture
def embedded(aws):
    """Red and blue photos labelled and embedded by a run with the colour model."""
    vector_search.install()
    world(IMAGES)
    _upload_model()
    assert run.run(_config()) == errors.EXIT_OK
