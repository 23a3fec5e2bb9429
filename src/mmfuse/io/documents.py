"""Text out of documents: plain text (UTF-8), PDF (pypdf) and Word DOCX (python-docx).

A PDF page laid out in two columns is read column by column (``pdf_columns``).

Every reader opens its file read-only and raises ``InputError`` with one line for a file it
cannot read: not UTF-8, encrypted or corrupt PDF, a DOCX that is not a zip or is a zip bomb, a
scanned PDF without a text layer.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from mmfuse.errors import InputError
from mmfuse.io.pdf_columns import column_text

# A DOCX or PDF whose text exceeds this is cut (with a warning): ~2,000 pages of prose.
MAX_DOCUMENT_CHARS = 5_000_000
# A DOCX (a zip) is refused, from its directory and before anything is inflated, when its members
# unpack to more than this in all (python-docx holds every part in memory): a 2,000-page CV with
# its photos is tens of MB. Sizes come from the central directory, which zipfile enforces: a
# member inflating past its stated size fails to read.
MAX_DOCX_UNPACKED_BYTES = 256 * 2**20
# ... or when a member over DOCX_RATIO_FLOOR_BYTES unpacks to more than this many times its packed
# size: a zip bomb (a 1.9 MB DOCX unpacking to GBs took 31 s and 5.1 GB to fail). Apache POI's
# default for Office files is the same 100x (ZipSecureFile.MIN_INFLATE_RATIO = 0.01); Word's XML
# packs about 10x, media barely.
MAX_DOCX_RATIO = 100
DOCX_RATIO_FLOOR_BYTES = 2**20

log = logging.getLogger(__name__)


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file's content (a byte-order mark is dropped)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise InputError(f"{path.name}: cannot read ({error.strerror or error})") from None


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise InputError(f"{path.name}: encrypted PDF")
        pages = [column_text(page) or page.extract_text() or "" for page in reader.pages]
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise InputError(f"{path.name}: corrupt or truncated PDF ({error})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InputError(f"{path.name}: PDF has no text layer (scanned pages need OCR)")
    return text


def _check_zip(path: Path) -> None:
    """Refuses a DOCX whose members would unpack too large (MAX_DOCX_UNPACKED_BYTES) or too
    many times over (MAX_DOCX_RATIO): read from the zip's directory, nothing inflated."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    total = sum(m.file_size for m in members)
    if total > MAX_DOCX_UNPACKED_BYTES:
        raise InputError(
            f"{path.name}: DOCX unpacks to {total:,} bytes (over {MAX_DOCX_UNPACKED_BYTES:,})"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > DOCX_RATIO_FLOOR_BYTES and ratio > MAX_DOCX_RATIO:
            raise InputError(
                f"{path.name}: DOCX looks like a zip bomb ({member.compress_size:,} bytes unpack "
                f"to {member.file_size:,}, over {MAX_DOCX_RATIO}x)"
            )


def _read_docx(path: Path) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        _check_zip(path)
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InputError(f"{path.name}: not a readable DOCX file ({error})") from None
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(p for p in paragraphs if p.strip())


def read_document(path: str | Path) -> str:
    """The text of a .txt/.md, .pdf or .docx file.

    Raises:
        InputError: unreadable, corrupt, encrypted, or of an unsupported type.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text = _read_pdf(path)
    elif suffix == ".docx":
        text = _read_docx(path)
    elif suffix in (".txt", ".md", ".text", ".caption"):
        text = read_text_file(path)
    else:
        raise InputError(f"{path.name}: unsupported document type {suffix or '(none)'}")
    if len(text) > MAX_DOCUMENT_CHARS:
        log.warning("%s: text cut to %d characters", path.name, MAX_DOCUMENT_CHARS)
        text = text[:MAX_DOCUMENT_CHARS]
    return text


def count_images(path: str | Path) -> int:
    """Pictures embedded in a PDF or DOCX (a CV's photo): counted, never decoded; 0 otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            from pypdf import PdfReader

            total = 0
            for page in PdfReader(path).pages:
                resources = page.get("/Resources") or {}
                objects = resources.get("/XObject") or {}
                total += sum(
                    1 for ref in objects.values() if ref.get_object().get("/Subtype") == "/Image"
                )
            return total
        if suffix == ".docx":
            with zipfile.ZipFile(path) as archive:
                return sum(1 for n in archive.namelist() if n.startswith("word/media/"))
    except Exception as error:  # an unreadable picture table: the text was read already
        log.debug("%s: cannot count images (%s)", path.name, error)
    return 0
