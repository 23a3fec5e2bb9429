"""Shared fixtures: the development data folder, an isolated cache, error-log guard."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mmfuse import config
from mmfuse.tasks.registry import TASK_MODULES

# The tests' own task, registered like any other (one line), so the contract tests cover it.
TASK_MODULES["toy"] = "helpers.toy_task"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """The test session gets its own cache root (before any model fixture), never a user's."""
    root = tmp_path_factory.getbasetemp() / "mmfuse-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMFUSE_CACHE", str(root))
        yield root


@pytest.fixture(autouse=True)
def session_cache_root(isolated_cache, monkeypatch):
    """``--cache-dir`` makes its folder the process's cache root (``config.use_cache_root``):
    each test gets the session's root back afterwards, so none leaks into the next."""
    monkeypatch.setenv("MMFUSE_CACHE", str(isolated_cache))


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module: tiny models are overhead-bound, and CI cores are shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or MMFUSE_DATA); integration tests skip cleanly when it is absent."""
    path = config.shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"development data not found at {path} (set MMFUSE_DATA)")
    return path


@pytest.fixture
def no_error_logs(caplog):
    """Fails the test if anything logged at ERROR or above (PySceneDetect's no_logs_gte_error)."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, "\n".join(r.getMessage() for r in errors)
