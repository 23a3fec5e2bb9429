"""Errors not about the input stop the run (one line, exit 3, resumable); input errors stay rows."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from helpers import toy_task
from helpers.media import make_folder, write_text, write_wav
from helpers.toy_task import ToyTask, main

from mmfuse.cache import Cache
from mmfuse.engines.local import decode_item, process_batch
from mmfuse.engines.options import RunOptions
from mmfuse.errors import (
    EXIT_PARTIAL,
    EXIT_SYSTEMIC,
    InputError,
    ModelUnavailable,
    SystemicError,
    is_systemic,
)
from mmfuse.io.discover import discover
from mmfuse.runner import JOURNAL, run_task
from mmfuse.tasks.registry import get_task, task_names

FLAGS = ["--no-cache", "--batch-size", "2", "--workers", "1"]


@pytest.mark.parametrize(
    ("error", "systemic"),
    [
        (ModuleNotFoundError("No module named 'six'"), True),
        (ImportError("cannot import name 'UNDETERMINED' from 'mmfuse.nlp.language'"), True),
        (MemoryError(), True),
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (ModelUnavailable("model 'timm:x' is not installed"), True),
        (RuntimeError("Expected all tensors to be on the same device, but found cuda:0"), True),
        (RuntimeError("CUDA error: device-side assert triggered"), True),
        (InputError("photo.png: empty file"), False),
        (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"), False),
        (OSError("image file is truncated (3 bytes not processed)"), False),
        (ValueError("Invalid data found when processing input"), False),
        (RuntimeError("task returned 1 rows for 2 items"), False),
    ],
)
def test_only_errors_not_about_the_input_are_systemic(error, systemic):
    assert is_systemic(error) is systemic


def test_a_missing_dependency_stops_the_run_in_one_line_and_a_rerun_resumes(
    tmp_path, capsys, monkeypatch
):
    process, batches = ToyTask.process, []

    def process_needing_six(self, batch):  # as langdetect does, from the second batch on
        batches.append([item.id for item, _ in batch])
        if len(batches) > 1:
            import six  # noqa: F401

        return process(self, batch)

    monkeypatch.setattr(ToyTask, "process", process_needing_six)
    for name in task_names():  # the parser imports every task, some of them through six
        get_task(name)
    monkeypatch.setitem(sys.modules, "six", None)  # importing it raises ModuleNotFoundError
    folder, out = make_folder(tmp_path / "in", 6), tmp_path / "out"
    command = [str(folder), "-o", str(out), *FLAGS]

    assert main(command) == EXIT_SYSTEMIC
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "ModuleNotFoundError" in err and "six" in err
    assert "2 of 6 items are done" in err and "run the same command again" in err
    assert len(batches) == 2  # stopped at the failing batch, never retried item by item
    assert not (out / "results.csv").exists() and len(Cache(out / JOURNAL)) == 2

    monkeypatch.delitem(sys.modules, "six")  # the dependency installed
    batches.clear()
    assert main(command) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["items"]["resumed"] == 2 and manifest["items"]["computed"] == 4
    assert manifest["failures"] == [] and sum(map(len, batches)) == 4


def test_input_errors_stay_one_row_each_but_a_readers_missing_module_stops_the_run(
    tmp_path, capsys, monkeypatch
):
    process = ToyTask.process

    def process_failing_on_odd_text(self, batch):  # a bug the item triggers, not the device
        if any("odd" in item.id for item, _ in batch):
            raise RuntimeError("index 7 is out of bounds for dimension 0 with size 3")
        return process(self, batch)

    monkeypatch.setattr(ToyTask, "process", process_failing_on_odd_text)
    folder = make_folder(tmp_path / "in", 4)
    write_text(folder / "empty.txt", "")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    write_wav(folder / "silent.wav", amplitude=0.0)
    write_text(folder / "odd.txt", "a post the task cannot handle")
    assert main([str(folder), "-o", str(tmp_path / "out"), *FLAGS]) == EXIT_PARTIAL
    manifest = json.loads((tmp_path / "out/manifest.json").read_text(encoding="utf-8"))
    errors = {failure["id"]: failure["error"] for failure in manifest["failures"]}
    assert sorted(errors) == ["corrupt", "empty", "latin1", "odd", "silent"]
    assert errors["corrupt"].startswith("UnidentifiedImageError")
    assert errors["odd"].startswith("RuntimeError: index 7")
    assert "5 of 9 items failed" in capsys.readouterr().err

    def read_image_without_pil(path):
        raise ModuleNotFoundError("No module named 'PIL'")

    monkeypatch.setattr(toy_task, "_read_image", read_image_without_pil)
    assert main([str(folder), "-o", str(tmp_path / "again"), *FLAGS]) == EXIT_SYSTEMIC
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "No module named 'PIL'" in err


class _MemoryBoundTask(ToyTask):
    """Runs out of (fake) GPU memory on batches of more than two items, and on "too_big" alone."""

    def __init__(self):
        super().__init__()
        self.sizes: list[int] = []

    def process(self, batch):
        self.sizes.append(len(batch))
        if len(batch) > 2 or any(item.id == "too_big" for item, _ in batch):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().process(batch)


def test_out_of_memory_halves_the_batch_and_a_lone_item_out_of_memory_stops(tmp_path, monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    task = _MemoryBoundTask()
    task.setup()
    batch = [decode_item(task, item)[:2] for item in discover(make_folder(tmp_path / "in", 8))]

    rows = process_batch(task, batch)
    assert [row["id"] for row in rows] == [item.id for item, _ in batch]
    assert all(row["error"] == "" for row in rows)
    assert task.sizes == [8, 4, 2, 2, 4, 2, 2] and len(emptied) == 3

    write_text(tmp_path / "in/too_big.txt", "a post too big for the device even alone")
    out = tmp_path / "out"
    options = RunOptions(use_cache=False, progress="off", workers=1, batch_size=8)
    with pytest.raises(SystemicError, match="OutOfMemoryError: CUDA out of memory"):
        run_task(_MemoryBoundTask(), discover(tmp_path / "in"), out, options, [])
    assert len(Cache(out / JOURNAL)) == 8  # the first batch; no error row


def test_a_device_error_while_the_models_load_stops_in_one_line(tmp_path, capsys, monkeypatch):
    def setup(self):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(ToyTask, "setup", setup)
    folder = make_folder(tmp_path / "in", 2)
    assert main([str(folder), "-o", str(tmp_path / "out"), *FLAGS]) == EXIT_SYSTEMIC
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no kernel image" in err[0], err
