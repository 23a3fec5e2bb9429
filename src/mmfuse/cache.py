"""A content-addressed cache of rows (results, embeddings) in one SQLite file.

A key is the SHA-256 of everything that decides a row: the bytes of the item's files, its
inline text and metadata, the model ids and settings. A row is a dict of scalars and numpy
arrays, stored without pickle: scalars and each array's dtype and shape as JSON, the arrays'
raw bytes beside them (object dtypes are refused both ways), so a cache file from elsewhere
cannot run code. SQLite in WAL mode
makes every ``put`` atomic and lets threads and processes share the file; a process killed
mid-write loses at most the row it was writing.

File hashes are remembered in the results cache by (path, size, mtime_ns, ctime_ns): the one
memo of file hashes (``file_digest``), for inputs and weights alike (``file_sha256``), so a
re-run does not read unchanged videos or weights again; a file rewritten with its size and
mtime restored still has a new ctime.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import stat
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mmfuse import config
from mmfuse.types import Item

# Bump when the key recipe or the row encoding changes, so old entries are never misread.
KEY_VERSION = 1
# The database file inside a cache folder.
DB_NAME = "cache.sqlite"
# Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    key TEXT PRIMARY KEY, scalars TEXT NOT NULL, arrays BLOB, created REAL NOT NULL);
DROP TABLE IF EXISTS file_hashes;
CREATE TABLE IF NOT EXISTS file_sha256 (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
"""
# (file_hashes, keyed without the ctime, is what caches before file_sha256 held.)
# ``file_sha256.path`` holds the SHA-256 of the path, not the path: file and folder names
# ("jane_doe/cv.pdf") can name a person, and the cache must not keep them.


def default_results_dir() -> Path:
    """The results cache folder: ``config.cache_dir()/"results"``."""
    return config.cache_dir() / "results"


def encode_row(row: dict[str, Any]) -> tuple[str, bytes | None]:
    """Splits a row into JSON text (scalars, column order, array layouts) and array bytes.

    Raises:
        TypeError: a value is neither a JSON scalar/list/dict nor a numeric numpy array.
    """
    scalars: dict[str, Any] = {}
    arrays: list[dict[str, Any]] = []
    blob = io.BytesIO()
    for name, value in row.items():
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise TypeError(f"column {name!r}: object arrays cannot be stored")
            arrays.append({"name": name, "dtype": value.dtype.str, "shape": list(value.shape)})
            blob.write(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, np.generic):
            scalars[name] = value.item()
        else:
            scalars[name] = value
    try:
        text = json.dumps({"order": list(row), "scalars": scalars, "arrays": arrays})
    except TypeError as error:
        raise TypeError(f"row is not storable: {error}") from None
    return text, blob.getvalue() if arrays else None


def decode_row(text: str, blob: bytes | None) -> dict[str, Any]:
    """The row ``encode_row`` split, in its original column order.

    Raises:
        ValueError: the record declares an object dtype (it would need pickle).
    """
    record = json.loads(text)
    values = dict(record["scalars"])
    offset = 0
    for layout in record["arrays"]:
        dtype = np.dtype(layout["dtype"])
        if dtype.hasobject:
            raise ValueError(f"column {layout['name']!r}: refusing an object array")
        count = int(np.prod(layout["shape"]))
        array = np.frombuffer(blob or b"", dtype=dtype, count=count, offset=offset)
        values[layout["name"]] = array.reshape(layout["shape"]).copy()
        offset += count * dtype.itemsize
    return {name: values[name] for name in record["order"]}


def make_key(*parts: Any) -> str:
    """SHA-256 (hex) of JSON-serialisable parts, independent of dict key order."""
    text = json.dumps([KEY_VERSION, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    """Key -> row store in ``folder/cache.sqlite``; safe across threads and processes.

    Args:
        folder: the cache folder, created when missing.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # rows hold the posts' text
        config.make_dir(self.folder)  # and under the cache root, the folders above it
        self.path = self.folder / DB_NAME
        # only the owner reads it; SQLite gives its -wal and -shm files the same mode. Created
        # exclusively: opening and closing an existing database file would drop the POSIX
        # locks that this process's open connections hold on it (SQLite's "how to corrupt")
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        self._local = threading.local()
        self._connect()  # create the schema now, so a bad folder fails here, not mid-run

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads or forks)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
            conn.executescript(_SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The row stored under ``key``, or None."""
        found = (
            self._connect()
            .execute("SELECT scalars, arrays FROM rows WHERE key = ?", (key,))
            .fetchone()
        )
        return None if found is None else decode_row(*found)

    def __contains__(self, key: str) -> bool:
        return (
            self._connect().execute("SELECT 1 FROM rows WHERE key = ?", (key,)).fetchone()
            is not None
        )

    def put(self, key: str, row: dict[str, Any]) -> None:
        """Stores ``row`` under ``key`` (replacing any previous row), atomically.

        Raises:
            TypeError: the row holds a value that cannot be stored without pickle.
        """
        text, arrays = encode_row(row)
        self._connect().execute(
            "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?)", (key, text, arrays, time.time())
        )

    def __len__(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM rows").fetchone()[0]

    def info(self) -> dict[str, Any]:
        """Folder, number of rows, remembered file hashes and bytes on disk."""
        conn = self._connect()
        size = sum(p.stat().st_size for p in self.folder.glob(f"{DB_NAME}*") if p.is_file())
        return {
            "folder": str(self.folder),
            "rows": len(self),
            "file_hashes": conn.execute("SELECT COUNT(*) FROM file_sha256").fetchone()[0],
            "bytes": size,
        }

    def clear(self, older_than_s: float | None = None) -> int:
        """Removes rows (every one, or those stored more than ``older_than_s`` seconds ago) and,
        when all go, the remembered hashes; gives the disk space back; returns rows removed."""
        conn = self._connect()
        if older_than_s is None:
            removed = conn.execute("DELETE FROM rows").rowcount
            conn.execute("DELETE FROM file_sha256")
        else:
            cutoff = time.time() - older_than_s
            removed = conn.execute("DELETE FROM rows WHERE created < ?", (cutoff,)).rowcount
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        return removed

    def close(self) -> None:
        """Closes this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _remembered_hash(self, path: str, info: os.stat_result) -> str | None:
        found = (
            self._connect()
            .execute(
                "SELECT sha256 FROM file_sha256 WHERE path = ? AND size = ? AND mtime_ns = ? "
                "AND ctime_ns = ?",
                (_path_key(path), info.st_size, info.st_mtime_ns, info.st_ctime_ns),
            )
            .fetchone()
        )
        return None if found is None else found[0]

    def _remember_hash(self, path: str, info: os.stat_result, digest: str) -> None:
        self._connect().execute(
            "INSERT OR REPLACE INTO file_sha256 VALUES (?, ?, ?, ?, ?)",
            (_path_key(path), info.st_size, info.st_mtime_ns, info.st_ctime_ns, digest),
        )


def _path_key(path: str) -> str:
    """What ``file_sha256`` stores for a path: its SHA-256."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


def file_digest(path: str | Path, memo: Cache | None = None) -> str:
    """SHA-256 of a file, streamed; remembered in ``memo`` by (path, size, mtime, ctime).

    Never raises: a missing, unreadable or non-regular file gets a marker in place of its hash
    (the engine reports that file as the item's error; such rows are never cached).
    """
    name = os.path.abspath(path)
    try:
        info = os.stat(name)
    except OSError as error:
        return f"unreadable:{error.errno}"
    if not stat.S_ISREG(info.st_mode):
        return "not-a-regular-file"
    if memo is not None:
        known = memo._remembered_hash(name, info)
        if known is not None:
            return known
    try:
        with open(name, "rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as error:
        return f"unreadable:{error.errno}"
    if memo is not None:
        memo._remember_hash(name, info, digest)
    return digest


def content_key(item: Item, task_settings: dict, memo: Cache | None = None) -> str:
    """The cache key of one item's row under a task's settings.

    It covers the item's id and file locations as well as their bytes, because rows carry
    them; renaming a file or changing one byte, a model or an option gives a new key.

    Args:
        item: the item.
        task_settings: ``Task.settings()`` with the options rows depend on
            (``runner.keyed_settings``).
        memo: a cache whose remembered file hashes to use and extend.
    """
    files = [[os.path.abspath(p), file_digest(p, memo)] for p in item.paths]
    return make_key(item.id, item.text, item.meta, item.error, files, task_settings)


@lru_cache(maxsize=4)
def _memo(root: str) -> Cache:
    """The results cache under the cache root ``root``, as the memo of file hashes."""
    return Cache(Path(root) / "results")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (weights, a head's files), remembered in the results cache's memo
    (``file_digest``) so it is read once.

    Raises:
        OSError: the file is missing, unreadable or not a regular file.
    """
    path.stat()  # a missing file raises here
    digest = file_digest(path, _memo(str(config.cache_dir().resolve())))
    if digest.startswith("unreadable:") or digest == "not-a-regular-file":
        raise OSError(f"cannot read {path}: {digest}")
    return digest


def folder_digest(path: str | Path) -> str:
    """SHA-256 over the files of a folder given by path (a model, a head, an examples folder):
    each file's name relative to it and its ``file_sha256``, hidden files (``.name``)
    excepted; for a single file, its name and ``file_sha256``. What such a folder keys a run
    and is recorded by: the one folder digest of mmfuse."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    else:
        files = [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()
