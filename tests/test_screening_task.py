"""The screening task end to end with a tiny sentence encoder: inputs, errors, ranks, summary."""

from __future__ import annotations

import csv
import json
import re

import pytest
from helpers.leaks import leaked
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse import cli

JOB = """Requirements
- 3+ years of experience with Python
- Experience with Kubernetes
Nice to have
- Terraform is a plus
"""
STRONG = """Work Experience
Engineer, Acme, 2015 - 2020
Deployed Python services on k8s and wrote Terraform modules.
Skills
Python, Kubernetes, Terraform
"""
WEAK = """Work Experience
Cashier, Corner Shop, 2019 - 2020
Handled the till and stock.
"""


def _rows(path) -> dict[str, dict]:
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return {row["id"]: row for row in csv.DictReader(stream)}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "tiny"
    return save_tiny_sentence_transformer(folder, ["python", "team", "engineer"], 16)


def _run(tmp_path, tiny_model, source, *extra) -> int:
    (tmp_path / "job.txt").write_text(JOB, encoding="utf-8")
    return cli.main(
        ["run", "screening", str(source), "--job", str(tmp_path / "job.txt"), "-o",
         str(tmp_path / "out"), "--text-model", f"sentence-transformers:{tiny_model}",
         "--no-progress", "--as-of", "2026-01-01", *extra]
    )  # fmt: skip


def test_folder_of_candidates_docx_scanned_pdf_and_ranks(
    tmp_path, tiny_model, one_torch_thread, capsys
):
    import docx
    from pypdf import PdfWriter

    root = tmp_path / "in"
    (root / "strong").mkdir(parents=True)
    (root / "strong" / "cv.txt").write_text(STRONG, encoding="utf-8")
    (root / "strong" / "questions.txt").write_text("Why this job?\n", encoding="utf-8")
    (root / "weak").mkdir()
    document = docx.Document()
    for line in WEAK.splitlines():
        document.add_paragraph(line)
    document.save(root / "weak" / "cv.docx")
    (root / "scanned").mkdir()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with open(root / "scanned" / "cv.pdf", "wb") as stream:
        writer.write(stream)

    assert _run(tmp_path, tiny_model, root, "--must-have-all") == 1  # one item failed
    rows = _rows(tmp_path / "out" / "results.csv")
    assert set(rows) == {"strong", "weak", "scanned"}
    assert rows["scanned"]["error"] == "CV (pdf): PDF has no text layer (scanned pages need OCR)"
    assert rows["scanned"]["rank"] == ""
    strong, weak = rows["strong"], rows["weak"]
    assert (strong["rank"], weak["rank"]) == ("1", "2")
    assert float(strong["fit_score"]) > float(weak["fit_score"])
    assert (strong["must_have_met"], strong["must_have_total"]) == ("2", "2")
    assert strong["years_experience"] == "5.0" and strong["knocked_out"] == "False"
    matched = {m["requirement"]: m for m in json.loads(strong["matched_requirements"])}
    assert "k8s" in matched["Experience with Kubernetes"]["evidence"]
    assert weak["knocked_out"] == "True" and "knocked out" in weak["notes"]
    with open(tmp_path / "out" / "summary.csv", encoding="utf-8-sig", newline="") as stream:
        summary = {r["requirement"]: r for r in csv.DictReader(stream)}
    # (the tiny random encoder's cosines are meaningless, so only counts and flags here)
    assert summary["3+ years of experience with Python"]["met"] == "1"
    assert summary["Experience with Kubernetes"]["screened"] == "2"
    assert summary["Terraform is a plus"]["must"] == "False"
    # one row per candidate and requirement, by rank, with how each was matched
    with open(tmp_path / "out" / "requirements.csv", encoding="utf-8-sig", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert [r["id"] for r in table][:1] == ["strong"] and "scanned" not in {r["id"] for r in table}
    kubernetes = next(
        r for r in table if r["id"] == "strong" and r["requirement"] == "Experience with Kubernetes"
    )
    assert (kubernetes["status"], kubernetes["how"]) == ("met", "synonym")
    assert "k8s" in kubernetes["evidence"] and kubernetes["via"] == "k8s -> Kubernetes"
    out = str(tmp_path / "out")
    assert cli.main(["explain", out, "--id", "strong", "--requirement", "kubernetes"]) == 0
    shown = capsys.readouterr().out
    assert "[met, synonym: k8s -> Kubernetes] (must) Experience with Kubernetes" in shown
    assert "evidence: Deployed Python services on k8s" in shown
    assert cli.main(["explain", out, "--id", "nobody"]) == 2
    no_key = tmp_path / "names.csv"  # an id key without its original_id column
    no_key.write_text("id,name\nstrong,Anna\n", encoding="utf-8")
    assert cli.main(["explain", out, "--id", "Anna", "--id-key", str(no_key)]) == 2
    assert "has no column 'original_id'" in capsys.readouterr().err


def test_manifest_with_cv_text_and_passthrough_columns(tmp_path, tiny_model, one_torch_thread):
    manifest = tmp_path / "cvs.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "cv_text", "source"])
        writer.writerow(["c1", STRONG, "referral"])
        writer.writerow(["c2", WEAK, "job board"])
    assert _run(tmp_path, tiny_model, manifest) == 0
    rows = _rows(tmp_path / "out" / "results.csv")
    assert rows["c1"]["source"] == "referral" and rows["c1"]["rank"] == "1"
    assert rows["c2"]["knocked_out"] == "False"  # marked only with --must-have-all
    # Issue 24 #5: the models that ran, not Whisper (no interviews here); spaCy reads every CV
    models = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    ids = [m["id"] for m in models["models"]]
    assert ids == [f"sentence-transformers:{tiny_model}", "spacy:en_core_web_sm"]


def test_a_job_is_required(tmp_path, capsys):
    (tmp_path / "cv.txt").write_text(STRONG, encoding="utf-8")
    code = cli.main(["run", "screening", str(tmp_path), "-o", str(tmp_path / "out")])
    assert code == 2 and "--job" in capsys.readouterr().err


def test_manifest_with_cv_paths(tmp_path, tiny_model, one_torch_thread):
    (tmp_path / "cvs").mkdir()
    (tmp_path / "cvs" / "one.txt").write_text(STRONG, encoding="utf-8")
    manifest = tmp_path / "cvs.csv"
    manifest.write_text("id,cv,team\nc1,cvs/one.txt,data\nc2,cvs/missing.txt,data\n")
    assert _run(tmp_path, tiny_model, manifest) == 1
    rows = _rows(tmp_path / "out" / "results.csv")
    assert rows["c1"]["error"] == "" and rows["c1"]["team"] == "data"
    assert rows["c1"]["must_have_met"] == "2"
    assert rows["c2"]["error"] and rows["c2"]["rank"] == ""


def test_ids_that_carry_names_are_replaced_and_logged_without_naming_them(
    caplog, monkeypatch, tmp_path
):
    from mmfuse.tasks.options import resolve
    from mmfuse.tasks.screening import ScreeningOptions, ScreeningTask
    from mmfuse.types import Item

    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path))
    options = resolve(ScreeningOptions, {"job_text": JOB}, {})
    items = [Item("jane_doe"), Item("cand-017"), Item("cand-a")]
    ids = [i.id for i in ScreeningTask(options, items).run_items(items)]
    assert ids[0].startswith("cand-") and ids[1:] == ["cand-017", "cand-a"]
    (record,) = [r for r in caplog.records if "carried personal data" in r.getMessage()]
    assert record.getMessage().startswith("1 candidate ids") and "jane" not in record.getMessage()


# The tail of a job description: a contact paragraph after the last list, then one under
# "What we offer" with no blank line before it; and a contact line inside the list.
JOB_WITH_TAIL = """Backend Engineer

Requirements
- 3+ years of experience with Python
- Experience with Kubernetes
- Native Spanish speaker
- Questions: m.okonkwo@example.org or +44 20 7946 0958

Nice to have
- Terraform is a plus

Please write to Marguerite Okonkwo at m.okonkwo@example.org or call +44 20 7946 0958.
What we offer
A friendly team at 42 Larkspur Lane. Marguerite Okonkwo, Hiring Manager, +44 20 7946 0958
"""
JOB_PII = ("Marguerite", "Okonkwo", "okonkwo@", "7946", "Larkspur")


def test_the_job_tail_is_no_requirement_and_the_job_is_redacted(
    tmp_path, tiny_model, one_torch_thread
):
    (tmp_path / "in" / "c1").mkdir(parents=True)
    (tmp_path / "in" / "c1" / "cv.txt").write_text(STRONG, encoding="utf-8")
    (tmp_path / "job.txt").write_text(JOB_WITH_TAIL, encoding="utf-8")
    out = tmp_path / "out"
    argv = ["run", "screening", str(tmp_path / "in"), "--job", str(tmp_path / "job.txt"),
            "-o", str(out), "--text-model", f"sentence-transformers:{tiny_model}",
            "--no-progress", "--as-of", "2026-01-01"]  # fmt: skip
    assert cli.main(argv) == 0
    with open(out / "summary.csv", encoding="utf-8-sig", newline="") as stream:
        requirements = [r["requirement"] for r in csv.DictReader(stream)]
    assert requirements == [
        "3+ years of experience with Python",
        "Experience with Kubernetes",
        "Native Spanish speaker",
        "Questions: <EMAIL_ADDRESS> or <PHONE_NUMBER>",
        "Terraform is a plus",
    ]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert not leaked(JOB_PII, text), f"{leaked(JOB_PII, text)!r} in {path.name}"


@pytest.mark.parametrize("job", ["", " \n\t\n"])
def test_an_empty_or_blank_job_is_a_usage_error(tmp_path, capsys, job):
    (tmp_path / "in" / "c1").mkdir(parents=True)
    (tmp_path / "in" / "c1" / "cv.txt").write_text(STRONG, encoding="utf-8")
    (tmp_path / "job.txt").write_text(job, encoding="utf-8")
    base = ["run", "screening", str(tmp_path / "in"), "-o", str(tmp_path / "out")]
    assert cli.main([*base, "--job", str(tmp_path / "job.txt")]) == 2
    assert "job description" in capsys.readouterr().err
    assert cli.main([*base, "--job-text", job]) == 2
    assert "--job" in capsys.readouterr().err


def test_a_cv_longer_than_spacy_reads_is_cut_with_a_note(
    tmp_path, tiny_model, one_torch_thread, monkeypatch
):
    # issue 25 #16: a CV over spaCy's max_length (1,000,000) failed with its "[E088]" message;
    # both limits are made small here, so the test stays fast
    from mmfuse.tasks.screening import task as screening_task
    from mmfuse.tasks.screening.preprocess import nlp

    monkeypatch.setattr(nlp(), "max_length", 3000)
    monkeypatch.setattr(screening_task, "MAX_CV_CHARS", 2000, raising=False)
    long_cv = STRONG + "Wrote more Python services for the team.\n" * 200  # ~8,500 characters
    root = tmp_path / "in"
    for name, text in (("long", long_cv), ("short", STRONG)):
        (root / name).mkdir(parents=True)
        (root / name / "cv.txt").write_text(text, encoding="utf-8")
    assert _run(tmp_path, tiny_model, root) == 0
    rows = _rows(tmp_path / "out" / "results.csv")
    assert rows["long"]["error"] == "" and "E088" not in rows["long"]["notes"]
    read = re.search(
        rf"CV cut: read the first ([\d,]+) of {len(long_cv):,} characters", rows["long"]["notes"]
    )
    assert read and 1000 <= int(read[1].replace(",", "")) <= 2000  # at a line end
    assert rows["long"]["fit_score"] and rows["long"]["years_experience"]
    assert "characters" not in rows["short"]["notes"]


def test_cut_cv_keeps_short_cvs_and_cuts_at_the_limit_without_line_ends(monkeypatch):
    from mmfuse.tasks.screening import task as screening_task

    monkeypatch.setattr(screening_task, "MAX_CV_CHARS", 10, raising=False)
    assert screening_task.cut_cv("a" * 10) == ("a" * 10, None)
    assert screening_task.cut_cv("a" * 25) == (
        "a" * 10,
        "CV cut: read the first 10 of 25 characters",
    )
    assert screening_task.cut_cv("abcdefg\nhijklmnop")[0] == "abcdefg"


COVER_LETTER = """Dear hiring manager,

I am writing to apply for the backend role. I admire your product and would love to help.

Kind regards,
A. Candidate
"""
# The same CV as STRONG in German and in French (#25 item 5): years from their own dates.
GERMAN = """Profil
Über 6 Jahre Berufserfahrung mit Python.

Berufserfahrung
Softwareentwicklerin, Acme GmbH, seit 01/2019
Python-Dienste auf Kubernetes betrieben, Terraform-Module geschrieben.
Entwicklerin, Beta AG, März 2015 \u2013 Dezember 2018

Kenntnisse
Python, Kubernetes, Terraform
"""
FRENCH = """Expérience professionnelle
Développeuse, Acme SA, févr. 2016 \u2013 aujourd'hui
Services Python déployés sur Kubernetes, modules Terraform écrits.

Compétences
Python, Kubernetes, Terraform
"""


def test_the_cv_is_read_rather_than_the_cover_letter_and_its_language_noted(
    tmp_path, tiny_model, one_torch_thread
):
    root = tmp_path / "in"
    for name, files in {
        "cand_letter": {"resume.txt": STRONG, "cover_letter.txt": COVER_LETTER},
        "cand_plain": {"resume.txt": STRONG},
        "cand_unnamed": {"doc1.txt": COVER_LETTER, "doc2.txt": STRONG},
        "cand_de": {"lebenslauf.txt": GERMAN},
        "cand_fr": {"cv.txt": FRENCH},
    }.items():
        (root / name).mkdir(parents=True)
        for file, text in files.items():
            (root / name / file).write_text(text, encoding="utf-8")
    assert _run(tmp_path, tiny_model, root) == 0
    rows = _rows(tmp_path / "out" / "results.csv")
    plain = rows["cand_plain"]
    for both in ("cand_letter", "cand_unnamed"):  # scored as the CV alone
        row = rows[both]
        for column in ("fit_score", "must_have_met", "years_experience", "cv_sections"):
            assert row[column] == plain[column], (both, column)
        assert "not screened: a cover letter (txt)" in row["notes"], row["notes"]
    assert plain["notes"] == "" and plain["cv_language"] == "en"
    german, french = rows["cand_de"], rows["cand_fr"]
    assert (german["cv_language"], french["cv_language"]) == ("de", "fr")
    assert "CV in German (de)" in german["notes"] and "CV in French (fr)" in french["notes"]
    assert "English models" in german["notes"]
    # 03/2015-12/2018 and 01/2019 to the as-of date 2026-01-01; 02/2016 to the as-of date
    assert german["years_experience"] == "10.8" and french["years_experience"] == "9.9"
    assert german["cv_sections"] == "experience,skills"
    assert french["cv_sections"] == "experience,skills"


def test_choose_cv_by_name_and_content():
    from pathlib import Path

    from mmfuse.errors import InputError
    from mmfuse.tasks.screening.documents import choose_cv

    texts = {"cv.pdf": STRONG, "cover_letter.pdf": COVER_LETTER, "notes.txt": "Bring a pen."}

    def read(path):
        if path.name == "broken.docx":
            raise InputError(f"{path.name}: corrupt or truncated DOCX")
        return texts[path.name]

    chosen, notes = choose_cv([Path("cover_letter.pdf"), Path("cv.pdf")], read)
    assert chosen.path.name == "cv.pdf" and not chosen.letter
    assert notes == [
        "screened the pdf document that reads most as a CV (judged by names and headings); "
        "not screened: a cover letter (pdf)"
    ]
    chosen, notes = choose_cv([Path("broken.docx"), Path("cover_letter.pdf")], read)
    assert chosen.letter and notes == [
        "not read: broken.docx: corrupt or truncated DOCX",
        "the CV reads as a cover letter: its scores may be low",
    ]
    with pytest.raises(InputError):
        choose_cv([Path("broken.docx")], read)
