"""Model weights are checked: by content for models given by path, against recorded hashes for
registered ones, and a damaged derived copy is derived again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mmfuse import config, registry
from mmfuse.cli import main
from mmfuse.errors import ModelUnavailable
from mmfuse.registry import ModelSpec, model_digest, verify
from mmfuse.tasks.registry import get_task, task_names


def _flip_a_byte_keeping_size_and_mtime(path: Path) -> None:
    info = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_a_model_given_by_path_is_known_by_its_content(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(os.urandom(4096))
    (folder / "config.json").write_text("{}")
    before = model_digest(f"faster-whisper:{folder}")
    assert before == model_digest(f"faster-whisper:{folder}")  # stable
    _flip_a_byte_keeping_size_and_mtime(folder / "model.bin")
    assert model_digest(f"faster-whisper:{folder}") != before
    assert model_digest("faster-whisper:some/hub-name") == ""  # nothing local to hash


def _derived_spec(content: bytes, built: list) -> ModelSpec:
    """A registered model that mmfuse derives into its cache folder (like the joined base)."""
    target = config.models_cache_dir() / "test-derived"

    def locate() -> Path:
        if not (target / "weights.bin").is_file():
            target.mkdir(parents=True, exist_ok=True)
            (target / "weights.bin").write_bytes(content)
            built.append(target)
        return target

    sha = hashlib.sha256(content).hexdigest()
    return ModelSpec("test:derived", "text", "MIT", 0.1, "numpy==0", {"weights.bin": sha}, locate)


def test_a_damaged_derived_copy_is_derived_again(isolated_cache):
    built: list = []
    spec = _derived_spec(b"good weights" * 100, built)
    folder = verify(spec)
    _flip_a_byte_keeping_size_and_mtime(folder / "weights.bin")
    assert verify(spec) == folder and len(built) == 2  # removed and derived again
    assert (folder / "weights.bin").read_bytes() == b"good weights" * 100


def test_registered_weights_that_fail_their_hash_are_refused_and_flagged(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "weights.bin").write_bytes(b"tampered")
    spec = ModelSpec(
        "test:tampered", "text", "MIT", 0.1, "numpy==0", {"weights.bin": "0" * 64},
        lambda: tmp_path,
    )  # fmt: skip
    with pytest.raises(ModelUnavailable, match="does not match its recorded SHA-256"):
        verify(spec)
    for name in task_names():  # imported first: their options name the real defaults
        get_task(name)
    monkeypatch.setattr(registry, "SPECS", {spec.id: spec})  # hash only this one
    assert main(["models"]) == 1
    assert "MISMATCH" in capsys.readouterr().out
