"""The content-addressed cache: rows with arrays, no pickle, keys that follow the content."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mmfuse.cache import Cache, content_key, file_digest, file_sha256
from mmfuse.cli import main
from mmfuse.types import Item


def test_rows_round_trip_with_arrays_in_column_order(tmp_path):
    cache = Cache(tmp_path / "c")
    row = {
        "id": "a",
        "score": 0.1 + 0.2,
        "missing": None,
        "nan": float("nan"),
        "flag": np.bool_(True),
        "embedding": np.linspace(0, 1, 5, dtype=np.float32),
        "tokens": np.arange(6, dtype=np.int64).reshape(2, 3),
        "empty": np.zeros((0, 4), np.float16),
        "scalar_array": np.array(2.5),
        "error": "",
    }
    cache.put("k", row)
    got = Cache(tmp_path / "c").get("k")  # a second instance: it is on disk
    assert list(got) == list(row)
    assert got["score"] == 0.1 + 0.2 and got["missing"] is None and np.isnan(got["nan"])
    assert got["flag"] is True
    assert got["embedding"].dtype == np.float32
    np.testing.assert_array_equal(got["embedding"], row["embedding"])
    np.testing.assert_array_equal(got["tokens"], row["tokens"])
    assert got["empty"].shape == (0, 4) and got["empty"].dtype == np.float16
    assert got["scalar_array"].shape == () and got["scalar_array"] == 2.5
    assert cache.get("other") is None
    assert "k" in cache and "other" not in cache and len(cache) == 1


def test_values_that_would_need_pickle_are_refused(tmp_path):
    cache = Cache(tmp_path)
    with pytest.raises(TypeError, match="object arrays"):
        cache.put("k", {"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(TypeError):
        cache.put("k", {"x": object()})


def test_a_planted_object_array_is_never_unpickled(tmp_path):
    cache = Cache(tmp_path)
    blob = pickle.dumps(np.array([print], dtype=object))
    layout = {"name": "x", "dtype": "|O", "shape": [1]}
    text = json.dumps({"order": ["x"], "scalars": {}, "arrays": [layout]})
    cache._connect().execute("INSERT INTO rows VALUES ('k', ?, ?, 0)", (text, blob))
    with pytest.raises(ValueError, match="object array"):
        cache.get("k")


def test_threads_share_one_cache(tmp_path):
    cache = Cache(tmp_path)

    def work(t):
        for i in range(25):
            cache.put(f"{t}-{i}", {"v": np.full(3, i, np.float32)})
            assert cache.get(f"{t}-{i}")["v"][0] == i

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(work, t) for t in range(4)]:
            done.result()  # re-raises a failure inside a thread
    assert len(cache) == 100


def test_clear_and_info(tmp_path):
    cache = Cache(tmp_path)
    cache.put("a", {"x": 1})
    (tmp_path / "f.txt").write_text("hello")
    file_digest(tmp_path / "f.txt", cache)
    info = cache.info()
    assert (info["rows"], info["file_hashes"]) == (1, 1) and info["bytes"] > 0
    cache.clear()
    assert cache.info()["rows"] == 0 and cache.get("a") is None


def test_key_follows_bytes_text_meta_and_settings(tmp_path):
    path = tmp_path / "post.txt"
    path.write_text("hello")
    item = Item("post", (path,))
    key = content_key(item, {"model": "m1"})
    assert content_key(Item("post", (path,)), {"model": "m1"}) == key
    assert content_key(item, {"model": "m2"}) != key
    assert content_key(Item("post", (path,), text="caption"), {"model": "m1"}) != key
    assert content_key(Item("post", (path,), meta={"a": "1"}), {"model": "m1"}) != key
    path.write_text("hellO")
    assert content_key(item, {"model": "m1"}) != key


def test_file_hashes_are_remembered_until_the_file_changes(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "c")
    path = tmp_path / "big.wav"
    path.write_bytes(b"x" * 1000)
    reads = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, d: reads.append(1) or real(f, d))
    first = file_digest(path, cache)
    assert first == hashlib.sha256(b"x" * 1000).hexdigest()
    assert file_digest(path, cache) == first and len(reads) == 1
    path.write_bytes(b"y" * 1001)
    assert file_digest(path, cache) != first and len(reads) == 2


def test_missing_or_unreadable_files_still_get_a_key(tmp_path):
    missing = tmp_path / "gone.png"
    assert file_digest(missing).startswith("unreadable:")
    os.mkfifo(tmp_path / "pipe.wav")
    assert file_digest(tmp_path / "pipe.wav") == "not-a-regular-file"  # never opened
    assert len(content_key(Item("gone", (missing,)), {})) == 64


def test_cache_command_shows_and_clears(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path))  # a cache of its own, not the session's
    Cache(tmp_path / "results").put("a", {"x": 1})
    assert main(["cache", "info"]) == 0
    assert "results: 1 rows" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "cleared" in capsys.readouterr().out
    assert len(Cache(tmp_path / "results")) == 0
    assert main(["cache", "drop"]) == 2


def test_the_cache_is_private_to_its_owner(tmp_path):
    cache = Cache(tmp_path / "results")
    cache.put("a", {"text": "my private post"})
    assert stat.S_IMODE((tmp_path / "results").stat().st_mode) == 0o700
    for path in (tmp_path / "results").glob("cache.sqlite*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_clear_older_than_keeps_recent_rows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path))
    cache = Cache(tmp_path / "results")
    cache.put("old", {"x": 1})
    stored = time.time()
    monkeypatch.setattr(time, "time", lambda: stored + 3 * 86_400)  # three days later
    cache.put("new", {"x": 2})
    assert main(["cache", "clear", "--older-than", "2"]) == 0
    assert "cleared" in (out := capsys.readouterr().out) and "1 of 2 rows" in out
    assert cache.get("old") is None and cache.get("new") == {"x": 2}


def test_cache_clear_removes_the_file_commands_run_folders(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path))
    run = tmp_path / "runs" / "transcribe-abc"
    (run / "transcripts").mkdir(parents=True)
    (run / "transcripts" / "voice.txt").write_text("what was said")
    assert main(["cache", "clear"]) == 0
    assert "1 run folders" in capsys.readouterr().out and not run.exists()


def test_one_memo_of_file_hashes_for_inputs_and_weights(tmp_path, monkeypatch):
    # issue 24: weights were hashed through sha256.json, inputs through the results cache
    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path / "root"))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"w" * 100)
    reads = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, d: reads.append(1) or real(f, d))
    digest = file_sha256(path)
    assert digest == hashlib.sha256(b"w" * 100).hexdigest()
    assert file_digest(path, Cache(tmp_path / "root" / "results")) == digest
    assert len(reads) == 1 and not (tmp_path / "root" / "sha256.json").exists()
    before = path.stat()
    path.write_bytes(b"v" * 100)  # same size, the mtime put back: only the ctime tells
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert file_sha256(path) == hashlib.sha256(b"v" * 100).hexdigest() and len(reads) == 2
