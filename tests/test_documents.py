"""Documents into text: UTF-8 text, PDF and DOCX; bad files give one-line InputErrors."""

from __future__ import annotations

import docx
import pytest
from helpers.media import write_bomb_docx

from mmfuse.errors import InputError
from mmfuse.io import documents
from mmfuse.io.documents import read_document, read_text_file


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer is ``text`` (Helvetica, no compression)."""
    return placed_pdf([(72, 720, text)])


def placed_pdf(lines: list[tuple[float, float, str]]) -> bytes:
    """A one-page PDF drawing each ``(x, y, text)`` in the given order (Helvetica 10 pt)."""
    content = " ".join(f"BT /F1 10 Tf {x} {y} Td ({t}) Tj ET" for x, y, t in lines).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_text_layer_is_read(tmp_path):
    path = tmp_path / "cv.pdf"
    path.write_bytes(minimal_pdf("Senior Python engineer with ten years of experience"))
    assert "Senior Python engineer with ten years" in read_document(path)


SIDEBAR = ["Skills", "Python, SQL, Kubernetes", "Languages", "English, Spanish", "Education"]
SIDEBAR += ["BSc Physics, 2012"]
MAIN = ["Work Experience", "Data engineer, Acme, 2015 - 2020", "Built the nightly pipelines"]
MAIN += ["and the reporting service.", "Analyst, Initech, 2012 - 2015", "Wrote the sales models."]


def test_two_column_pdf_drawn_row_by_row_reads_column_by_column(tmp_path):
    from mmfuse.tasks.screening.sections import split_sections

    lines = [(60, 760, "Curriculum Vitae of a data engineer with ten years in retail")]
    for row, (side, main) in enumerate(zip(SIDEBAR, MAIN, strict=True)):
        lines += [(40, 720 - 16 * row, side), (240, 720 - 16 * row, main)]
    path = tmp_path / "two-column.pdf"
    path.write_bytes(placed_pdf(lines))
    text = read_document(path)
    assert text.splitlines() == [lines[0][2], *SIDEBAR, *MAIN]  # the title across the page first
    sections = split_sections(text)
    assert "Built the nightly pipelines" in sections.text_of("experience")
    assert "Kubernetes" in sections.text_of("skills")
    assert "Built" not in sections.text_of("skills") + sections.text_of("education")


def test_one_column_pdf_with_a_margin_of_dates_keeps_its_order(tmp_path):
    lines = []
    for row, (date, body) in enumerate(zip(["2015 -", "2020"] * 3, MAIN, strict=True)):
        lines += [(40, 720 - 16 * row, date), (120, 720 - 16 * row, body)]
    path = tmp_path / "dates.pdf"
    path.write_bytes(placed_pdf(lines))
    text = read_document(path)
    assert text.splitlines()[2] == "2015 - Built the nightly pipelines"


def test_docx_paragraphs_and_tables_are_read(tmp_path):
    document = docx.Document()
    document.add_paragraph("Jane Roe, data scientist")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Skills", "Python, SQL"
    path = tmp_path / "cv.docx"
    document.save(path)
    text = read_document(path)
    assert "Jane Roe, data scientist" in text
    assert "Skills | Python, SQL" in text


def test_text_file_drops_byte_order_mark(tmp_path):
    path = tmp_path / "note.txt"
    path.write_bytes("\ufeffcafé".encode())
    assert read_document(path) == "café"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.txt", "café crème".encode("latin-1"), "not UTF-8 text"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type", "corrupt or truncated PDF"),
        ("fake.docx", b"this is not a zip", "not a readable DOCX"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported document type .xlsx"),
    ],
)
def test_bad_documents_give_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        read_document(path)
    assert "\n" not in str(error.value)
    assert path.read_bytes() == content  # never modified


def test_zip_bomb_docx_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    path = write_bomb_docx(tmp_path / "cv.docx")  # 20 MiB of zeros in ~20 kB
    inflated, read = [], documents.zipfile.ZipFile.read

    def read_recorded(archive, name, *args):
        inflated.append(getattr(name, "filename", name))
        return read(archive, name, *args)

    monkeypatch.setattr(documents.zipfile.ZipFile, "read", read_recorded)
    with pytest.raises(InputError, match=r"cv\.docx: DOCX looks like a zip bomb") as error:
        read_document(path)
    assert "unpack to 20,971,520, over 100x" in str(error.value)
    assert not inflated


def test_docx_unpacking_past_the_total_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "cv.docx"
    document = docx.Document()
    document.add_paragraph("Jane Roe, data scientist")
    document.save(path)
    assert "Jane Roe" in read_document(path)
    monkeypatch.setattr(documents, "MAX_DOCX_UNPACKED_BYTES", 1000)
    with pytest.raises(InputError, match=r"cv\.docx: DOCX unpacks to [\d,]+ bytes \(over 1,000\)"):
        read_document(path)


def test_pdf_without_text_layer_says_so(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf(""))
    with pytest.raises(InputError, match="no text layer"):
        read_document(path)


def test_missing_text_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_text_file(tmp_path / "absent.txt")


@pytest.mark.integration
def test_resume_pdfs_from_shared_data(shared_data):
    folder = shared_data / "documents" / "resume_matcher"
    text = read_document(folder / "JobDescription" / "job_desc_java_developer.pdf")
    assert "Java" in text
    for pdf in sorted((folder / "Resumes").glob("*.pdf")):
        assert len(read_document(pdf).split()) > 50, pdf.name
