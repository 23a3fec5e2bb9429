"""Candidate ids that do not name the candidate.

Blind screening redacts the CV, but a folder called ``jane_doe`` would still put her name in
every row, log line and cache key. An id that looks like a person's name (two or three words
of letters) is replaced by ``cand-`` and ten hex digits of HMAC-SHA256 under a secret salt:
the same name gives the same id on this machine, so resumed runs and the cache still work,
and the id cannot be turned back into the name without the salt. The salt is 32 random bytes
created once in the cache root (readable by the owner only). The mapping back is written only
where the user asks for it (``--id-key FILE``), to be kept apart from what reviewers see.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from mmfuse import config
from mmfuse.types import Item

# An id of two or three words of letters ("jane_doe", "Jane-Doe"): maybe a person's name.
NAME_LIKE_ID = re.compile(r"[A-Za-z]{2,}(?:[ _.-][A-Za-z]{2,}){1,2}")
SALT_FILE = "screening-id-salt"
PREFIX = "cand-"
DIGITS = 10  # hex digits of the HMAC kept: 40 bits, no collision among a run's candidates


def id_salt() -> bytes:
    """This machine's secret salt (``SALT_FILE`` in the cache root), created on first use."""
    path = config.cache_dir() / SALT_FILE
    if not path.is_file():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(32))
    return path.read_bytes()


def blind_id(item_id: str, salt: bytes) -> str:
    """``cand-`` and ten hex digits of HMAC-SHA256(salt, id)."""
    digest = hmac.new(salt, item_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:DIGITS]


def blind_items(items: Sequence[Item], salt: bytes) -> tuple[list[Item], dict[str, str]]:
    """The items with name-like ids replaced (``blind_id``), and new id -> original id."""
    out, key = [], {}
    for item in items:
        if NAME_LIKE_ID.fullmatch(item.id):
            new = blind_id(item.id, salt)
            key[new] = item.id
            item = dataclasses.replace(item, id=new)
        out.append(item)
    return out, key


def write_key(path: Path, key: dict[str, str]) -> None:
    """``id,original_id`` rows of the replaced ids, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "original_id"])
        writer.writerows(sorted(key.items()))
