"""Discovery: a folder, a single file or a manifest into a sorted list of Items.

Folders are walked recursively, following symbolic links but never into a folder already
visited (no loops, no duplicates); names starting with "." are ignored. Files are grouped
into items either by stem (``post1.jpg`` + ``post1.txt`` -> item ``post1``; in sub-folders the
id keeps the relative path, ``cam1/IMG_0001``) or by sub-folder (``post1/{image.jpg,
caption.txt}`` -> item ``post1``). ``auto`` picks "folder" when the top level holds only
sub-folders and none of them holds two files of one media kind (each looks like one
multi-modal item), else "stem".

A single file is one item, except a ``.csv`` or ``.jsonl`` file, which is read as a manifest.
Item paths are absolute (so Ray workers need not share this process's working directory).

A file of unknown extension is ignored when its content does not look like media (sidecar
JSON, notes); when it does (a JPEG named ``.xyz``) it stays in its item, and the engine
gives that item the error "unsupported file type". Ignored files are counted in one log line.

A manifest (CSV or JSONL) gives one item per line: an id column, text columns (joined into
``Item.text``), path columns (relative to the manifest's folder), the other columns into
``Item.meta``. Items keep the manifest's order; an empty or repeated id is a usage error,
since outputs are joined on it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from mmfuse.errors import InputError, UsageError
from mmfuse.io.documents import read_text_file
from mmfuse.types import Item, media_kind

log = logging.getLogger(__name__)

GROUPINGS = ("auto", "stem", "folder", "file")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
# Manifest columns read as inline text when none are named.
DEFAULT_TEXT_COLUMNS = ("text", "caption", "cv_text")
# Manifest columns read as file paths by their name (lowercase), whatever their cells hold:
# a missing or misnamed file in one of them is that row's error, never a silent metadata cell.
PATH_COLUMN_NAMES = frozenset(
    {
        "path", "paths", "file", "files", "filename", "media", "attachment", "attachments",
        "image", "images", "photo", "photos", "picture", "thumbnail",
        "audio", "voice", "recording", "video", "videos", "clip", "clips",
        "document", "documents", "cv", "resume",
    }
)  # fmt: skip
PATH_COLUMN_SUFFIXES = ("_path", "_paths", "_file", "_files", "_image", "_audio", "_video")
# Leading bytes of media formats (offset, signature, kind): "av" is a container that holds
# audio or video. Only signatures of 4+ bytes, or 3 for JPEG/ID3, so plain text never matches.
SIGNATURES = (
    (0, b"\xff\xd8\xff", "image"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n", "image"),
    (0, b"GIF87a", "image"),
    (0, b"GIF89a", "image"),
    (0, b"II*\x00", "image"),  # TIFF, little-endian
    (0, b"MM\x00*", "image"),  # TIFF, big-endian
    (8, b"WEBP", "image"),  # after "RIFF" + size
    (8, b"WAVE", "audio"),
    (8, b"AVI ", "video"),
    (0, b"fLaC", "audio"),
    (0, b"ID3", "audio"),  # MP3 with ID3 tags
    (0, b"OggS", "av"),
    (4, b"ftypM4A", "audio"),
    (4, b"ftypheic", "image"),
    (4, b"ftyp", "av"),  # MP4, MOV, M4V
    (0, b"\x1aE\xdf\xa3", "av"),  # Matroska, WebM
    (0, b"\x00\x00\x01\xba", "video"),  # MPEG program stream
    (0, b"%PDF-", "document"),
)
SNIFF_BYTES = 16


def sniff_kind(path: Path) -> str | None:
    """The media kind a file's first bytes announce ("image", "audio", "video", "av" for a
    container of either, "document"), or None (text, unknown, unreadable)."""
    try:
        with open(path, "rb") as file:
            head = file.read(SNIFF_BYTES)
    except OSError:
        return None
    for offset, signature, kind in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind
    return None


def _walk(root: Path, recursive: bool) -> list[Path]:
    """Non-hidden, non-folder entries under ``root``; each real folder is listed once."""
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                log.debug("skipping %s: folder already visited (symbolic link loop?)", folder)
                continue
            seen.add((info.st_dev, info.st_ino))
            entries = list(os.scandir(folder))
        except OSError as error:
            log.warning("cannot list %s: %s", folder, error.strerror or error)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:  # a link loop (``ln -s a a``): the engine gives it its error row
                is_dir = False
            if is_dir:
                if recursive:
                    pending.append(path)
            else:
                found.append(path)
    return found


def _keep_inputs(files: list[Path]) -> list[Path]:
    """The files that are media by extension, or by content despite an unknown extension."""
    kept, ignored = [], Counter()
    for path in files:
        if media_kind(path) is not None or (path.is_file() and sniff_kind(path) is not None):
            kept.append(path)
        else:
            ignored[path.suffix.lower() or "(no extension)"] += 1
    if ignored:
        counts = ", ".join(f"{suffix}: {n}" for suffix, n in sorted(ignored.items()))
        log.info("ignored %d files that are not media (%s)", sum(ignored.values()), counts)
    return kept


def _choose_grouping(root: Path, files: list[Path]) -> str:
    if not files or any(p.parent == root for p in files):
        return "stem"
    kinds_per_folder: dict[str, list[str | None]] = defaultdict(list)
    for path in files:
        top = path.relative_to(root).parts[0]
        kinds_per_folder[top].append(media_kind(path) or sniff_kind(path))
    one_of_each = all(len(k) == len(set(k)) for k in kinds_per_folder.values())
    return "folder" if one_of_each else "stem"


def _group(root: Path, files: list[Path], group_by: str) -> list[Item]:
    if group_by == "file":
        return _one_per_file(root, files)
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        relative = path.relative_to(root)
        if group_by == "folder" and len(relative.parts) > 1:
            groups[relative.parts[0]].append(path)
        else:
            groups[relative.with_suffix("").as_posix()].append(path)
    return [Item(id=key, paths=tuple(sorted(groups[key]))) for key in sorted(groups)]


def _one_per_file(root: Path, files: list[Path]) -> list[Item]:
    """An item per file, id'd by its stem, or by its name where another file shares the stem
    (or is named like it: ``a.jpg`` next to ``a.jpg.mp4``), so that ids stay unique."""
    names = [p.relative_to(root).as_posix() for p in files]
    stems = [Path(name).with_suffix("").as_posix() for name in names]
    shared, taken = Counter(stems), set(names)
    items = [
        Item(id=stem if shared[stem] == 1 and stem not in taken else name, paths=(path,))
        for path, name, stem in zip(files, names, stems, strict=True)
    ]
    return sorted(items, key=lambda item: item.id)


def discover(path: str | Path, *, group_by: str = "auto", recursive: bool = True) -> list[Item]:
    """The items under a folder, of a single media file, or of a manifest (.csv, .jsonl).

    Args:
        path: a folder, a media file or a manifest.
        group_by: "auto", "stem", "folder" or "file" (see the module docstring).
        recursive: whether to descend into sub-folders.

    Returns:
        Items sorted by id (manifests keep their order), with absolute paths.

    Raises:
        UsageError: the path does not exist, or holds no media files.
    """
    if group_by not in GROUPINGS:
        raise UsageError(f"unknown grouping {group_by!r}; choose one of {', '.join(GROUPINGS)}")
    root = Path(os.path.abspath(path))  # absolute: Ray workers need not share our cwd
    if not root.exists():
        raise UsageError(f"input not found: {path}")
    if not root.is_dir():
        if root.suffix.lower() in MANIFEST_SUFFIXES:
            return read_manifest(root)
        return [Item(id=root.stem, paths=(root,))]
    found = _walk(root, recursive)
    files = _keep_inputs(found)
    if not files:
        manifests = [p for p in found if p.suffix.lower() in MANIFEST_SUFFIXES]
        hint = f" (to read a manifest, give its path: {manifests[0]})" if manifests else ""
        raise UsageError(f"no media files found in {root}{hint}")
    if group_by == "auto":
        group_by = _choose_grouping(root, files)
        log.debug("grouping files by %s", group_by)
    return _group(root, files, group_by)


def _read_records(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Column names and (line number, record) pairs of a CSV or JSONL manifest."""
    try:
        text = read_text_file(path)
    except InputError as error:
        raise UsageError(f"cannot read the manifest ({error})") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        records = [(n + 2, dict(row)) for n, row in enumerate(reader)]
        return list(reader.fieldnames or []), records
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise UsageError(f"{path}:{number}: not a JSON object ({error})") from None
        if not isinstance(record, dict):
            raise UsageError(f"{path}:{number}: not a JSON object")
        records.append((number, record))
    columns = list(dict.fromkeys(key for _, record in records for key in record))
    return columns, records


def _cell(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cell_paths(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def _is_path_column(records: list[tuple[int, dict]], column: str) -> bool:
    """A column of file paths by its name (``image``, ``audio_path``), or because every cell
    has a media extension."""
    name = column.strip().lower()
    if name in PATH_COLUMN_NAMES or name.endswith(PATH_COLUMN_SUFFIXES):
        return True
    cells = [p for _, record in records for p in _cell_paths(record.get(column))]
    return bool(cells) and all(media_kind(p) is not None for p in cells)


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` when it stays inside ``folder`` (links resolved), else None."""
    path = Path(os.path.normpath(folder / relative))
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(path)
    return path if os.path.commonpath([real_folder, real]) == real_folder else None


def _likely_text_column(records: list[tuple[int, dict]], columns: list[str], id_column: str) -> str:
    """The column whose cells hold the most words: the likeliest text of the posts."""
    others = [c for c in columns if c != id_column] or columns
    return max(others, key=lambda c: sum(len(_cell(r.get(c)).split()) for _, r in records[:200]))


def read_manifest(
    path: str | Path,
    id_column: str = "id",
    text_columns: list[str] | None = None,
    path_columns: list[str] | None = None,
    allow_outside: bool = False,
) -> list[Item]:
    """Items from a CSV or JSONL manifest, one per line, in the manifest's order.

    Args:
        path: the manifest (.csv with a header line, or .jsonl with one object per line).
        id_column: the column holding each item's unique id.
        text_columns: columns joined (blank line between) into ``Item.text``; default
            whichever of "text" and "caption" exist.
        path_columns: columns holding file paths (a JSONL list for several), relative to the
            manifest's folder; default the columns named like ``PATH_COLUMN_NAMES`` and every
            column whose cells all have a media extension.
        allow_outside: follow paths that leave the manifest's folder (``../``, absolute
            paths, links); by default such an item gets an error instead and nothing there is
            read.

    Raises:
        UsageError: unreadable manifest, missing column, no text nor path column (named or
            recognised), empty or duplicate id.
    """
    path = Path(os.path.abspath(path))
    columns, records = _read_records(path)
    missing = [
        c for c in [id_column, *(text_columns or []), *(path_columns or [])] if c not in columns
    ]
    if missing:
        flag = "--id-column" if missing[0] == id_column else "a flag"
        raise UsageError(
            f"manifest {path} has no column {missing[0]!r}; its columns: {', '.join(columns)}"
            f" (name the right one with {flag})"
        )
    if text_columns is None:
        text_columns = [c for c in DEFAULT_TEXT_COLUMNS if c in columns]
    if path_columns is None:
        path_columns = [
            c
            for c in columns
            if c != id_column and c not in text_columns and _is_path_column(records, c)
        ]
    if not text_columns and not path_columns:  # every row would fail alike: say it once
        raise UsageError(
            f"manifest {path.name} has no text or file column that mmfuse recognises; its "
            f"columns: {', '.join(columns)}. Name the text with --text-column NAME (e.g. "
            f"--text-column {_likely_text_column(records, columns, id_column)}) or the files "
            f"with --path-column NAME; recognised: {', '.join(DEFAULT_TEXT_COLUMNS)}, or "
            f"paths in columns such as image, audio, video, path"
        )
    items, first_line = [], {}
    for number, record in records:
        item_id = _cell(record.get(id_column)).strip()
        if not item_id:
            raise UsageError(f"{path}:{number}: empty {id_column!r}")
        if item_id in first_line:
            raise UsageError(
                f"{path}: duplicate id {item_id!r} (lines {first_line[item_id]} and {number})"
            )
        first_line[item_id] = number
        texts = [_cell(record.get(c)) for c in text_columns if _cell(record.get(c))]
        files, outside = [], []
        for relative in (p for c in path_columns for p in _cell_paths(record.get(c))):
            found = path.parent / relative if allow_outside else _inside(path.parent, relative)
            if found is None:
                outside.append(relative)
            else:
                files.append(found)
        meta = {
            c: _cell(record.get(c))
            for c in columns
            if c != id_column and c not in text_columns and c not in path_columns
        }
        items.append(
            Item(
                id=item_id,
                paths=tuple(sorted(files)),
                text="\n\n".join(texts) if texts else None,
                meta=meta,
                error=f"{outside[0]}: outside the manifest's folder (--allow-outside-paths)"
                if outside
                else "",
            )
        )
    return items


def expand_files(paths: Sequence[Path], kinds: Sequence[str]) -> list[Path]:
    """The files named, with each folder replaced by its entries of ``kinds`` (recursively).

    Only names are looked at: a broken or looping link, a FIFO or an unreadable file among
    them is kept, for the engine to give it its own error row (one bad entry never stops the
    others). Hidden entries of a folder are skipped, as ``discover`` does.

    Raises:
        UsageError: a path that is not there at all, or a folder without entries of ``kinds``.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in _walk(Path(path), True) if media_kind(p) in kinds)
            if not found:
                raise UsageError(f"no {' or '.join(kinds)} files in folder {path}")
            files.extend(found)
        elif os.path.lexists(path):
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    return files
