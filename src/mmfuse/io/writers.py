"""Output writers: formula-safe CSV, Parquet with embedding columns, JSON; UTF-8 and atomic.

A row is a dict from column name to a scalar (str, int, float, bool, None) or a numpy array.
CSV holds the scalars only, and a ``.csv`` file starts with a UTF-8 byte-order mark, by which
Excel knows it is UTF-8 (without it, Excel reads "café" and emojis as Windows-1252 garbage);
Python's ``utf-8-sig``, pandas, R and LibreOffice read it as plain UTF-8. Parquet holds both,
an array of shape [d0, d1, ...] becoming a nested list column (``list<float>`` for a 1-d
embedding). Writers that take a path write a temporary file in the same folder and rename it
over the target, so a reader (or a killed run) never sees half a file; ``write_csv`` takes a
text stream, so tests can pass ``io.StringIO``. A file under the cache root is the owner's only
(``config.PRIVATE_FILE_MODE``, its folders ``config.PRIVATE_DIR_MODE``); elsewhere it is 0644.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

import numpy as np

from mmfuse import config

# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"); a text
# cell starting with one of them is prefixed with a single quote, which spreadsheets show as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A social-media handle at the start of a cell ("@SkyJetHelp thanks"): kept as it is, since a
# formula needs a function call "(" or a DDE link "|" to do anything, and a cell holding neither
# can only show a name. A handle followed by either is quoted like any formula.
HANDLE = re.compile(r"@[A-Za-z0-9_]{1,50}(?=\s|$)")
FORMULA_CALLS = ("(", "|")
# The encoding of text files: CSV files get the byte-order mark (see the module docstring).
TEXT_ENCODING, CSV_ENCODING = "utf-8", "utf-8-sig"
# Rows per Parquet row group: bounds memory when writing many rows with embeddings.
PARQUET_CHUNK_ROWS = 1024


@contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Opens a temporary file beside ``path`` and renames it over ``path`` on success.

    Args:
        path: the final file.
        mode: "w" for UTF-8 text (universal newlines off, as the csv module wants) or "wb".
        encoding: of a text file; default UTF-8, with a byte-order mark for a ``.csv`` file
            (``CSV_ENCODING``).

    Yields:
        The open temporary file. On an exception it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    private = config.is_private(path)
    if private:
        config.make_dir(path.parent)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if encoding is None:
            encoding = CSV_ENCODING if path.suffix.lower() == ".csv" else TEXT_ENCODING
        kwargs = {"encoding": encoding, "newline": ""} if "b" not in mode else {}
        with open(fd, mode, **kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(staging, config.PRIVATE_FILE_MODE if private else 0o644)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def neutralise(text: str) -> str:
    """``text`` with a leading quote when a spreadsheet would run it as a formula.

    A leading ``@handle`` (letters, digits, underscores, then a space or the end) stays as it
    is unless the cell also holds ``(`` or ``|``: without a call or a link a formula can do
    nothing, and a post that starts with a mention reads as written.
    """
    if not text.startswith(FORMULA_PREFIXES):
        return text
    if HANDLE.match(text) and not any(c in text for c in FORMULA_CALLS):
        return text
    return "'" + text


def csv_cell(value: Any) -> str:
    """The CSV text of one scalar: "" for None and NaN, formula-safe text for strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, np.generic):
        return csv_cell(value.item())
    return str(value)


def write_csv(rows: Iterable[dict], columns: Sequence[str], stream: TextIO) -> int:
    """Writes a header and one line per row; array values are skipped (Parquet holds them).

    Args:
        rows: dicts from column name to value; missing columns become empty cells.
        columns: the columns, in order.
        stream: a text stream opened with ``newline=""``.

    Returns:
        The number of rows written.
    """
    writer = csv.writer(stream)  # RFC 4180: CRLF line ends; cells holding CR or LF are quoted
    writer.writerow([neutralise(c) for c in columns])
    count = 0
    for row in rows:
        writer.writerow(
            "" if isinstance(row.get(c), np.ndarray) else csv_cell(row.get(c)) for c in columns
        )
        count += 1
    return count


def write_json(obj: Any, path: str | Path) -> None:
    """Writes ``obj`` as indented UTF-8 JSON, atomically."""
    with atomic_write(path) as file:
        json.dump(obj, file, indent=2, ensure_ascii=False, default=str)
        file.write("\n")


def _scalar(value: Any) -> Any:
    """A Python scalar for numpy scalars and 0-d arrays; other values unchanged."""
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    return value


_SCALAR_KINDS = {bool: "bool", int: "int", float: "float"}


class _ColumnTypes:
    """Arrow types of the columns, learnt from every row in one pass."""

    def __init__(self, columns: Sequence[str]):
        self.kinds: dict[str, set[str]] = {c: set() for c in columns}
        self.dtypes: dict[str, list[np.dtype]] = {}
        self.ndims: dict[str, set[int]] = {}

    def add(self, row: dict) -> None:
        for name, raw in row.items():
            kinds = self.kinds.setdefault(name, set())
            value = _scalar(raw)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if isinstance(value, np.ndarray):
                self.dtypes.setdefault(name, []).append(value.dtype)
                self.ndims.setdefault(name, set()).add(value.ndim)
                kinds.add("array")
            else:
                kinds.add(_SCALAR_KINDS.get(type(value), "str"))

    def schema(self):
        import pyarrow as pa

        fields = []
        for name, kinds in self.kinds.items():
            if kinds == {"array"}:
                if len(self.ndims[name]) > 1:
                    raise ValueError(f"column {name!r} mixes array dimensions")
                arrow = pa.from_numpy_dtype(np.result_type(*self.dtypes[name]))
                for _ in range(next(iter(self.ndims[name]))):
                    arrow = pa.list_(arrow)
            elif kinds in ({"bool"}, {"int"}, {"float"}):
                arrow = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}[
                    next(iter(kinds))
                ]
            elif kinds == {"int", "float"}:
                arrow = pa.float64()
            else:  # text, nothing but nulls, or mixed kinds (written as text)
                arrow = pa.string()
            fields.append(pa.field(name, arrow))
        return pa.schema(fields)


def _from_buffers(arrow_type, valid: np.ndarray, *buffers, children=None):
    """An Arrow array from numpy buffers; ``pa.array`` would import pandas (a second a run)."""
    import pyarrow as pa

    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        arrow_type, len(valid), [bitmap, *map(pa.py_buffer, buffers)], children=children
    )


def _offsets(lengths) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32)


def _values(values: list, dtype: np.dtype) -> np.ndarray:
    """The data buffer of a primitive column (Arrow packs booleans into bits)."""
    data = np.asarray(values, dtype=dtype)
    return np.packbits(data, bitorder="little") if dtype == np.bool_ else data


def _array_column(values: list[np.ndarray | None], arrow_type):
    """A nested list Arrow array from per-row arrays of one dimensionality (None -> null)."""
    import pyarrow as pa

    depth, leaf = 0, arrow_type
    while pa.types.is_list(leaf):
        depth, leaf = depth + 1, leaf.value_type
    present = [np.asarray(v) for v in values if v is not None]
    flat = np.concatenate([v.reshape(-1) for v in present]) if present else np.empty(0)
    dtype = np.dtype(leaf.to_pandas_dtype())
    column = _from_buffers(leaf, np.ones(flat.size, bool), _values(flat, dtype))
    # Build the lists from the innermost level out: level j holds prod(shape[:j]) lists per row,
    # each of length shape[j].
    for level in reversed(range(depth)):
        if level == 0:
            valid = np.array([v is not None for v in values], dtype=bool)
            lengths = [0 if v is None else v.shape[0] for v in values]
        else:
            lengths = [n for v in present for n in [v.shape[level]] * int(np.prod(v.shape[:level]))]
            valid = np.ones(len(lengths), dtype=bool)
        column = _from_buffers(pa.list_(column.type), valid, _offsets(lengths), children=[column])
    return column


def _scalar_column(values: list[Any], arrow_type):
    import pyarrow as pa

    values = [_scalar(v) for v in values]
    if pa.types.is_string(arrow_type):
        texts = [
            None
            if v is None or (isinstance(v, float) and math.isnan(v))
            else v
            if isinstance(v, str)
            else json.dumps(v, default=str)
            for v in values
        ]
        valid = np.array([t is not None for t in texts], dtype=bool)
        encoded = [b"" if t is None else t.encode("utf-8") for t in texts]
        return _from_buffers(
            arrow_type, valid, _offsets([len(e) for e in encoded]), b"".join(encoded)
        )
    valid = np.array([v is not None for v in values], dtype=bool)
    dtype = np.dtype(arrow_type.to_pandas_dtype())
    return _from_buffers(arrow_type, valid, _values([0 if v is None else v for v in values], dtype))


def write_parquet(rows: Sequence[dict], path: str | Path, columns: Sequence[str] = ()) -> None:
    """Writes rows to Parquet atomically, arrays as nested list columns.

    Reads ``rows`` twice (types first, then values in row groups), so a lazy sequence keeps
    memory bounded by one row group.

    Args:
        rows: dicts from column name to scalar or numpy array.
        path: the output file.
        columns: columns to put first, in order; others follow in first-seen order.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = _ColumnTypes(columns)
    for row in rows:
        types.add(row)
    schema = types.schema()
    with atomic_write(path, "wb") as file, pq.ParquetWriter(file, schema) as writer:
        for start in range(0, max(len(rows), 1), PARQUET_CHUNK_ROWS):
            chunk = [rows[i] for i in range(start, min(start + PARQUET_CHUNK_ROWS, len(rows)))]
            arrays = [
                _array_column([r.get(f.name) for r in chunk], f.type)
                if pa.types.is_list(f.type)
                else _scalar_column([r.get(f.name) for r in chunk], f.type)
                for f in schema
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def _cell(text: str):
    """A CSV cell back to the value it was written from: numbers as numbers, the formula
    guard's quote removed, other text (ids like "007") as it is."""
    if re.fullmatch(r"-?(0|[1-9]\d*)", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+(e[-+]?\d+)?", text):
        return float(text)
    if text[:2] in {"'" + p for p in FORMULA_PREFIXES}:
        return text[1:]
    return text


def read_table(parquet: str | Path, csv_path: str | Path) -> tuple[list[dict], list[str]]:
    """Rows and columns written by ``write_parquet`` (typed; array columns left out), else by
    ``write_csv`` (numbers read back as numbers but ids kept as text, empty cells as "").

    Raises:
        FileNotFoundError: neither file exists.
    """
    if Path(parquet).is_file():
        import pyarrow as pa
        import pyarrow.parquet as pq

        scalar = [f.name for f in pq.read_schema(parquet) if not pa.types.is_nested(f.type)]
        return pq.read_table(parquet, columns=scalar).to_pylist(), scalar
    with open(csv_path, encoding=CSV_ENCODING, newline="") as file:  # with or without a BOM
        reader = csv.DictReader(file)
        rows = [{k: _cell(v) if v and k != "id" else v for k, v in row.items()} for row in reader]
        return rows, list(reader.fieldnames or [])
