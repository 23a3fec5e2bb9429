"""The Ray engine gives the local engine's table (a local Ray instance, started once)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers.media import make_folder, write_image, write_text, write_video, write_wav
from helpers.toy_task import ToyTask

from mmfuse.cli import main
from mmfuse.engines.options import RunOptions
from mmfuse.errors import SystemicError, UsageError
from mmfuse.io.discover import discover
from mmfuse.runner import run_task

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent
DEVICE_MISMATCH = "Expected all tensors to be on the same device, but found cuda:0 and cpu"


@pytest.fixture(scope="module")
def local_ray():
    """A two-worker local Ray whose workers can import the toy task from tests/."""
    ray.init(
        num_cpus=3,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}},
    )
    yield
    ray.shutdown()


def test_ray_engine_table_equals_the_local_engine_table(tmp_path, local_ray):
    folder = make_folder(tmp_path / "in", 10)
    write_text(folder / "empty.txt", "")  # fails in the checks
    write_wav(folder / "silent.wav", amplitude=0.0)  # fails inside a processed batch
    items = discover(folder)
    local = RunOptions(use_cache=False, progress="off", workers=2, batch_size=3)
    on_ray = RunOptions(use_cache=False, progress="off", workers=2, batch_size=3, engine="ray")

    by_local = run_task(ToyTask(), items, tmp_path / "local", local, ["toy"])
    by_ray = run_task(ToyTask(), items, tmp_path / "ray", on_ray, ["toy"])

    assert (
        (by_ray.rows_ok, by_ray.rows_failed)
        == (by_local.rows_ok, by_local.rows_failed)
        == (
            10,
            2,
        )
    )
    local_csv = (tmp_path / "local/results.csv").read_bytes()
    assert (tmp_path / "ray/results.csv").read_bytes() == local_csv
    assert pq.read_table(tmp_path / "ray/results.parquet").equals(
        pq.read_table(tmp_path / "local/results.parquet")
    )
    assert ray.is_initialized()  # the engine leaves a Ray it did not start running


class _WrongDeviceTask(ToyTask):
    """Fails as a model on another device than its inputs does, in ``stage`` (decode, process)."""

    def __init__(self, stage: str):
        super().__init__()
        self.stage = stage

    def decode(self, item):
        if self.stage == "decode":
            raise RuntimeError(DEVICE_MISMATCH)
        return super().decode(item)

    def process(self, batch):
        if self.stage == "process":
            raise RuntimeError(DEVICE_MISMATCH)
        return super().process(batch)


@pytest.mark.parametrize("stage", ["decode", "process"])
def test_a_systemic_error_on_ray_stops_the_run_with_its_message(tmp_path, local_ray, stage):
    items = discover(make_folder(tmp_path / "in", 6))
    on_ray = RunOptions(use_cache=False, progress="off", workers=2, batch_size=2, engine="ray")
    with pytest.raises(SystemicError, match=f"RuntimeError: {DEVICE_MISMATCH}"):
        run_task(_WrongDeviceTask(stage), items, tmp_path / "out", on_ray, ["toy"])
    assert not (tmp_path / "out/results.csv").exists()


def test_label_on_ray_writes_the_local_table(tmp_path, local_ray):
    """``mmfuse label --engine ray``: the real default model in Ray actors, same CSV."""
    folder = tmp_path / "in"
    for i in range(3):
        write_image(folder / f"img{i}.png", seed=i)
    write_video(folder / "clip.mp4", frames=6, audio=False)
    write_text(folder / "bad.jpg", "not an image")
    argv = ["-q", "label", str(folder), "--labels", "cat,dog,car", "--every", "0.25"]
    argv += ["--no-cache", "--no-progress", "--workers", "1"]
    assert main([*argv, "-o", str(tmp_path / "local.csv")]) == 1
    assert main([*argv, "-o", str(tmp_path / "ray.csv"), "--engine", "ray"]) == 1
    table = (tmp_path / "local.csv").read_bytes()
    assert (tmp_path / "ray.csv").read_bytes() == table
    assert table.count(b"\n") == 1 + 3 + 4 + 1  # header, images, frames + video, bad file


def test_model_actors_share_the_clusters_gpus(monkeypatch):
    from mmfuse.engines.ray import _gpus_per_actor

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 16.0, "GPU": 1.0})
    assert _gpus_per_actor("cuda", 4) == 0.25  # four actors on one GPU
    assert _gpus_per_actor(None, 4) == 0.25  # CUDA when present
    assert _gpus_per_actor("cpu", 4) == 0
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 64.0, "GPU": 8.0})
    assert _gpus_per_actor("cuda:0", 4) == 1.0  # at most one each
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 16.0})
    assert _gpus_per_actor(None, 4) == 0
    with pytest.raises(UsageError, match="no GPU"):
        _gpus_per_actor("cuda", 4)
