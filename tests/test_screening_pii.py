"""Blind screening: planted personal data leaves no trace in outputs, the cache or the logs."""

from __future__ import annotations

import json
import logging

import pytest
from helpers.leaks import leaked
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse import cli
from mmfuse.tasks.screening.pii import Redactor
from mmfuse.types import Item

PLANTED = {
    "PERSON": "Marguerite Okonkwo",
    "EMAIL_ADDRESS": "m.okonkwo@example.org",
    "PHONE_NUMBER": "+44 20 7946 0958",
    "ADDRESS": "42 Larkspur Lane",
    "DATE_OF_BIRTH": "14 March 1990",
    "URL": "linkedin.com/in/marguerite-ok",
}
CV = f"""{PLANTED["PERSON"]}
{PLANTED["ADDRESS"]}, Springfield
{PLANTED["PHONE_NUMBER"]} | {PLANTED["EMAIL_ADDRESS"]}
https://www.{PLANTED["URL"]}
Date of birth: {PLANTED["DATE_OF_BIRTH"]}. Age: 34. Nationality: Portuguese.
Marital status: married.

Summary
She is a backend engineer with 6 years of experience in Java and Kubernetes.
Marguerite led a team of five engineers.

Work Experience
Senior Engineer, Acme Corp, 2019 - Present
Built Spring Boot services on k8s. Ms Okonkwo mentored two juniors.

Skills
Java, Spring Boot, Docker, Kubernetes, SQL
"""
JOB = """Requirements
- 5+ years of Java development
- Experience with Kubernetes
- Spring Boot is a plus
"""
# Pieces of the planted values that must not survive either (a name's parts, the handle).
FRAGMENTS = ("Marguerite", "Okonkwo", "okonkwo@", "7946", "Larkspur", "1990", "marguerite-ok")


@pytest.fixture(scope="module")
def redactor():
    return Redactor(allow=["Java", "Kubernetes", "Spring Boot"])


def test_every_planted_value_is_replaced_by_its_typed_placeholder(redactor):
    redaction = redactor.redact(CV)
    for kind, value in PLANTED.items():
        assert value not in redaction.text, kind
    for fragment in FRAGMENTS:
        assert fragment.lower() not in redaction.text.lower(), fragment
    for placeholder in ("<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<ADDRESS>", "<URL>"):
        assert placeholder in redaction.text
    assert "<DATE_OF_BIRTH>" in redaction.text and "<AGE>" in redaction.text
    assert "<GENDER> is a backend engineer" in redaction.text  # "She"
    assert "<MARITAL_STATUS>" in redaction.text and "Portuguese" not in redaction.text
    assert redaction.counts["PERSON"] >= 3 and redaction.counts["EMAIL_ADDRESS"] == 1


def test_skills_and_employers_survive_redaction(redactor):
    text = redactor.redact(CV).text
    for kept in ("Java", "Kubernetes", "Spring Boot", "k8s", "Acme Corp", "2019 - Present"):
        assert kept in text


def test_terms_come_from_the_redacted_words_only(redactor):
    redaction = redactor.redact(CV)
    lemmas = {term for _, term in redaction.terms}
    assert {"engineer", "kubernetes", "lead"} <= lemmas
    assert not {"marguerite", "okonkwo", "larkspur"} & lemmas
    for offset, term in redaction.terms[:40]:
        assert redaction.text[offset:].lower().startswith(term[:2])  # offsets into the new text


@pytest.mark.slow
def test_no_trace_in_outputs_cache_or_logs(tmp_path, caplog, capfd, monkeypatch, one_torch_thread):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MMFUSE_CACHE", str(cache))
    model = save_tiny_sentence_transformer(tmp_path / "tiny", ["java", "team", "engineer"], 16)
    folder = tmp_path / "in" / "marguerite_okonkwo"  # an id that names her
    folder.mkdir(parents=True)
    (folder / "cv.txt").write_text(CV, encoding="utf-8")
    (tmp_path / "job.txt").write_text(JOB, encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    out, key = tmp_path / "out", tmp_path / "private" / "key.csv"
    flags = ["--text-model", f"sentence-transformers:{model}", "--no-progress", "-v"]
    command = ["run", "screening", str(tmp_path / "in"), "--job", str(tmp_path / "job.txt"),
               "-o", str(out), "--id-key", str(key), *flags]  # fmt: skip
    assert cli.main(command) == 0
    printed = capfd.readouterr()
    logs = caplog.text + printed.out + printed.err
    import csv

    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        (row,) = list(csv.DictReader(stream))
    assert row["id"].startswith("cand-") and not row["error"]
    assert key.read_text(encoding="utf-8").splitlines() == [
        "id,original_id",
        f"{row['id']},marguerite_okonkwo",
    ]
    redacted = json.loads(row["pii_redacted"])
    assert redacted["PERSON"] >= 3 and redacted["PHONE_NUMBER"] == 1
    files = [p for root in (out, cache) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in files) and any("results" in str(p) for p in files)
    haystacks = [(str(p), p.read_bytes().decode("utf-8", "replace")) for p in files]
    haystacks.append(("logs", logs))
    for where, text in haystacks:
        found = leaked((*PLANTED.values(), *FRAGMENTS), text)
        assert not found, f"{found!r} in {where}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["blind"] is True
    # the same name gets the same id again: the second run is served from the cache
    assert cli.main([*command, "--overwrite"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["items"]["from_cache"] == 1


def test_keep_pii_is_recorded_and_keeps_the_text(tmp_path):
    from mmfuse.tasks.options import resolve
    from mmfuse.tasks.screening import ScreeningOptions, ScreeningTask

    options = resolve(ScreeningOptions, {"job_text": JOB, "keep_pii": True}, {})
    task = ScreeningTask(options)
    assert task.settings()["blind"] is False
    items = [Item("jane_doe", text="a CV")]
    assert task.run_items(items) == items  # ids as given
    options = resolve(ScreeningOptions, {"job_text": JOB, "ids_are_safe": True}, {})
    task = ScreeningTask(options)
    assert task.settings()["blind"] is True and task.run_items(items) == items


# Ids that carry personal data (#25 item 8) and ordinary ids that a word-count rule hashed.
PII_IDS = {
    "Dr Ignatia Q Blomqvist-Harrow": "PERSON",
    "Cornelius_Vandermeer_1985": "PERSON",
    "okonkwo-m-+44 7700 900123": "PHONE_NUMBER",
    "ignatius.fairweather@example.org": "EMAIL_ADDRESS",
    "marguerite_okonkwo": "PERSON",
    "jane_doe": "PERSON",
    "Jane-Doe": "PERSON",
    "jane_doe2": "PERSON",
}
ORDINARY_IDS = ("big_txt", "cand_pm", "candidate_07", "cand-017", "0042", "IMG_20230415_123456")


def test_ids_that_carry_personal_data_are_replaced_by_a_salted_hash(monkeypatch, tmp_path):
    from mmfuse.tasks.screening.identity import blind_items, carried_pii

    for item_id, kind in PII_IDS.items():
        assert kind in carried_pii(item_id), item_id
    for item_id in ORDINARY_IDS:
        assert carried_pii(item_id) == (), item_id
    items = [Item(i) for i in (*PII_IDS, *ORDINARY_IDS)]
    blinded, key = blind_items(items, b"salt one")
    ids = [i.id for i in blinded]
    assert all(i.startswith("cand-") and len(i) == 15 for i in ids[: len(PII_IDS)])
    assert len(set(ids)) == len(ids)
    assert ids[len(PII_IDS) :] == list(ORDINARY_IDS)  # kept as they are
    assert key == dict(zip(ids, PII_IDS, strict=False))
    assert [i.id for i in blind_items(items, b"salt one")[0]] == ids  # stable
    assert blind_items(items, b"salt two")[0][0].id != ids[0]  # the salt is the secret
    # the job's words are no name: "Kafka Streams" is a skill of this job, not a person
    assert carried_pii("kafka_streams", allow=["Kafka", "Streams"]) == ()


def test_a_photo_in_a_docx_cv_is_counted_never_read(tmp_path):
    import docx
    from helpers.media import write_image

    from mmfuse.io.documents import count_images, read_document

    document = docx.Document()
    document.add_paragraph("Skills: Python")
    document.add_picture(str(write_image(tmp_path / "face.png")))
    document.save(tmp_path / "cv.docx")
    assert count_images(tmp_path / "cv.docx") == 1
    assert read_document(tmp_path / "cv.docx").strip() == "Skills: Python"
    assert count_images(tmp_path / "missing.pdf") == 0


# Identifiers beyond names and contacts (#25 item 10): each planted value and its placeholder.
IDENTIFIERS = {
    "QQ 12 34 56 C": "<UK_NINO>",
    "Passport number: 123456789": "<PASSPORT>",
    "passport no. AB1234567": "<PASSPORT>",
    "GB82 WEST 1234 5698 7654 32": "<IBAN_CODE>",
    "4111 1111 1111 1111": "<CREDIT_CARD>",
    "marguerite [at] example [dot] com": "<EMAIL_ADDRESS>",
    "m.okonkwo(at)example(dot)org": "<EMAIL_ADDRESS>",
    "SW1A 1AA": "<UK_POSTCODE>",
    "born on the fourteenth of March 1987": "<DATE_OF_BIRTH>",
    "born 3rd of May, 1987": "<DATE_OF_BIRTH>",
    "born in 1987": "<DATE_OF_BIRTH>",
    "52-year-old": "<AGE>",
    "fifty-two years old": "<AGE>",
    "aged forty-one": "<AGE>",
    "in my late forties": "<AGE>",
}
IDENTIFIER_CV = """Summary
A 52-year-old engineer, born on the fourteenth of March 1987 (or born 3rd of May, 1987 in
another draft; born in 1987 at any rate), fifty-two years old, aged forty-one, in my late forties.
National Insurance: QQ 12 34 56 C. Passport number: 123456789; passport no. AB1234567.
Bank: GB82 WEST 1234 5698 7654 32. Card: 4111 1111 1111 1111.
Write to marguerite [at] example [dot] com or m.okonkwo(at)example(dot)org, London SW1A 1AA.
"""
# Near misses that are ordinary CV text and must stay as they are.
NEAR_MISSES = (
    "5 years of experience",
    "over 10 years in Java",
    "2019-2023",
    "2019 - Present",
    "a 10-year-old monolith",
    "Order 4111 1111 1111 1112",  # fails the Luhn check: no card
    "ISO 27001",
    "Python 3.11",
    "MacBook M1 8GB",
    "AWS S3 and EC2",
    "Kubernetes",
    "born and raised",
    "passport holder",
    "worked at Acme",
)


def test_other_identifiers_are_redacted_and_near_misses_kept(redactor):
    redaction = redactor.redact(IDENTIFIER_CV + "\n".join(NEAR_MISSES) + "\n")
    for value, placeholder in IDENTIFIERS.items():
        assert value not in redaction.text, value
        assert placeholder in redaction.text, (value, redaction.text)
    for fragment in ("1987", "QQ 12", "123456789", "AB1234567", "WEST", "4111 1111 1111 1111",
                     "marguerite", "okonkwo", "SW1A", "52", "fifty", "forty"):  # fmt: skip
        assert fragment.lower() not in redaction.text.lower(), fragment
    for kept in NEAR_MISSES:
        assert kept in redaction.text, (kept, redaction.text)
    assert redaction.counts["DATE_OF_BIRTH"] == 3 and redaction.counts["AGE"] == 4
    assert redaction.counts["EMAIL_ADDRESS"] == 2 and redaction.counts["PASSPORT"] == 2


def test_questions_are_redacted_before_they_reach_the_answers():
    from types import SimpleNamespace

    import numpy as np

    from mmfuse.tasks.screening.answers import Interviewer, Recording

    class Encoder:  # a unit vector per text, from its length
        def encode(self, texts, batch_size=None):
            vectors = np.array([[1.0, len(t) % 7 + 1.0] for t in texts], np.float32)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    said = ["Tell us about a project you led.", "I led a data migration to Kubernetes."]
    segments = [
        SimpleNamespace(text=t, start=2.0 * i, end=2.0 * i + 1.5) for i, t in enumerate(said)
    ]
    words = [SimpleNamespace(text=w, start=0.1 * i, end=0.1 * i + 0.1)
             for i, w in enumerate(" ".join(said).split())]  # fmt: skip
    speech = SimpleNamespace(transcribe_words=lambda *args, **kwargs: (segments, words))
    redactor = Redactor(cv_header=False)
    interviewer = Interviewer(
        "unused", Encoder(), lambda t: redactor.redact(t).text, np.zeros((0, 2), np.float32), "cpu"
    )
    interviewer._speech = speech
    questions = ["Ottoline Fenwright-Sage, tell us about a project you led."]
    row, _ = interviewer.columns(Recording(np.zeros(16_000, np.float32)), questions)
    (answer,) = json.loads(row["answers"])
    assert "<PERSON>" in answer["question"] and "tell us about a project" in answer["question"]
    for part in ("Ottoline", "Fenwright", "Sage"):
        assert part not in row["answers"]


def test_a_cv_that_fails_is_named_by_its_kind_never_by_its_file_name(
    tmp_path, caplog, capfd, one_torch_thread
):
    import csv

    import pyarrow.parquet as pq

    names = (
        "Marguerite_Okonkwo_CV.pdf",
        "Resume - Theodosia Wrenfield-Abara (theodosia.wa@example.com).pdf",
    )
    root = tmp_path / "in"
    for number, name in enumerate(names, 1):  # a few bytes of garbage named .pdf
        (root / f"cand-{number}").mkdir(parents=True)
        (root / f"cand-{number}" / name).write_bytes(b"\x00garbage, not a PDF\xff")
    (root / "cand-3").mkdir()  # an empty file that names her beside a CV that reads
    (root / "cand-3" / "cv.txt").write_text(CV.split("Summary", 1)[1], encoding="utf-8")
    (root / "cand-3" / "Okonkwo_Marguerite.docx").write_bytes(b"")
    (root / "cand-3" / "Marguerite_Okonkwo_interview.mp4").write_bytes(b"\x00not a video\xff")
    (root / "cand-4").mkdir()  # only an empty file: the check's error, before decoding
    (root / "cand-4" / names[0].replace(".pdf", ".docx")).write_bytes(b"")
    model = save_tiny_sentence_transformer(tmp_path / "tiny", ["java", "team", "engineer"], 16)
    (tmp_path / "job.txt").write_text(JOB, encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    code = cli.main(
        ["run", "screening", str(root), "--job", str(tmp_path / "job.txt"), "-o", str(out),
         "--text-model", f"sentence-transformers:{model}", "--no-progress", "-v"]
    )  # fmt: skip
    assert code == 1
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert rows["cand-1"]["error"].startswith("CV (pdf): corrupt or truncated PDF")
    assert rows["cand-2"]["error"].startswith("CV (pdf): corrupt or truncated PDF")
    assert not rows["cand-3"]["error"] and "CV (docx): empty file" in rows["cand-3"]["notes"]
    assert "interview not read: interview (mp4)" in rows["cand-3"]["notes"]
    assert rows["cand-4"]["error"] == "CV (docx): empty file"
    printed = capfd.readouterr()
    haystacks = [(str(p), p.read_bytes().decode("utf-8", "replace"))
                 for p in out.rglob("*") if p.is_file()]  # fmt: skip
    haystacks.append(("parquet", json.dumps(pq.read_table(out / "results.parquet").to_pylist(),
                                            default=str)))  # fmt: skip
    haystacks.append(("logs", caplog.text + printed.out + printed.err))
    assert any(where.endswith("report.html") for where, _ in haystacks)
    for where, text in haystacks:
        for part in ("Marguerite", "Okonkwo", "Theodosia", "Wrenfield", "theodosia.wa"):
            assert part.lower() not in text.lower(), f"{part!r} in {where}"


# A name found once (header, stated, signature, e-mail local part) and its later mentions in
# sentences (#25 item 9): each text, and the words that must not survive in it.
NAMES_IN_SENTENCES = {
    "stated": (
        "Summary\nMy name is Marguerite Okonkwo and I am a data engineer. Marguerite is a data "
        "engineer with 6 years of Python.\nMARGUERITE OKONKWO is available; marguerite also "
        "writes Kubernetes operators.\n",
        ("Marguerite", "Okonkwo"),
    ),
    "header": (
        "Nguyễn Thị Minh Khai\nData engineer\n\nSummary\nNguyễn Thị Minh Khai builds pipelines."
        " Khai led a team of four; NGUYỄN wrote the Java services. Reach Nguyen Khai by post.\n",
        ("Nguyễn", "Nguyen", "Minh", "Khai", "Thị"),
    ),
    "signature": (
        "Dear hiring manager,\nI am applying for the data engineer role.\n\nKind regards,\n"
        "Ottoline Fenwright-Sage\n\nPS: Ottoline can start in May. FENWRIGHT-SAGE\n",
        ("Ottoline", "Fenwright", "Sage"),
    ),
    "e-mail": (
        "Contact: t.wrenfield-abara@example.org\n\nSummary\nWrenfield-Abara built Kubernetes "
        "clusters. Data pipelines in Python. Ask WRENFIELD about Java.\n",
        ("Wrenfield", "Abara"),
    ),
}


@pytest.mark.parametrize("case", sorted(NAMES_IN_SENTENCES))
def test_a_name_found_once_is_redacted_in_every_later_mention(redactor, case):
    text, parts = NAMES_IN_SENTENCES[case]
    redaction = redactor.redact(text)
    for part in parts:
        assert part.lower() not in redaction.text.lower(), (part, redaction.text)
    for kept in ("data engineer", "Kubernetes", "Java", "Python", "Data"):
        if kept in text:
            assert kept in redaction.text, (kept, redaction.text)
    assert redaction.counts["PERSON"] >= 3


def test_a_job_title_an_ordinary_email_or_a_place_after_i_am_is_no_name(redactor):
    text = (
        "Data Engineer\nSenior Platform Team\n\nSummary\nData engineer on the platform team; "
        "write to jobs.data@example.org. I am Java certified. I'm New York based and love new "
        "challenges.\n"
    )
    redaction = redactor.redact(text)
    assert "<PERSON>" not in redaction.text, redaction.text
    assert "Data engineer on the platform team" in redaction.text


ID_FRAGMENTS = ("Ignatia", "Blomqvist", "Harrow", "Cornelius", "Vandermeer", "7700", "900123",
                "okonkwo", "ignatius", "fairweather")  # fmt: skip


@pytest.mark.slow
def test_ids_that_carry_personal_data_reach_no_output_cache_or_log(
    tmp_path, caplog, capfd, monkeypatch, one_torch_thread
):
    import csv

    import pyarrow.parquet as pq

    cache = tmp_path / "cache"
    monkeypatch.setenv("MMFUSE_CACHE", str(cache))
    model = save_tiny_sentence_transformer(tmp_path / "tiny", ["java", "team", "engineer"], 16)
    root = tmp_path / "in"
    ids = [i for i in PII_IDS if i[0] in "DCoi"] + ["big_txt", "cand_pm", "candidate_07"]
    for item_id in ids:
        (root / item_id).mkdir(parents=True)
        (root / item_id / "cv.txt").write_text(CV.split("Summary", 1)[1], encoding="utf-8")
    (root / "cand_pm" / "cv.txt").write_bytes(b"")  # a failed row names its id too
    (tmp_path / "job.txt").write_text(JOB, encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    command = ["run", "screening", str(root), "--job", str(tmp_path / "job.txt"), "-o", str(out),
               "--text-model", f"sentence-transformers:{model}", "--no-progress", "-v"]  # fmt: skip
    assert cli.main(command) == 1
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert {"big_txt", "cand_pm", "candidate_07"} < set(rows)  # ordinary ids as they are
    assert sum(i.startswith("cand-") for i in rows) == 4 and rows["cand_pm"]["error"]
    printed = capfd.readouterr()
    files = [p for folder in (out, cache) for p in folder.rglob("*") if p.is_file()]
    haystacks = [(str(p.relative_to(tmp_path)), p.read_bytes().decode("utf-8", "replace"))
                 for p in files]  # fmt: skip
    haystacks.append(("parquet", json.dumps(pq.read_table(out / "results.parquet").to_pylist(),
                                            default=str)))  # fmt: skip
    haystacks.append(("logs", caplog.text + printed.out + printed.err))
    assert any(where.endswith("report.html") for where, _ in haystacks)
    assert any(where.endswith("manifest.json") for where, _ in haystacks)
    for where, text in haystacks:
        assert not leaked(ID_FRAGMENTS, where), where
        assert not leaked(ID_FRAGMENTS, text), f"{leaked(ID_FRAGMENTS, text)!r} in {where}"

    safe = tmp_path / "safe"
    command[command.index(str(out))] = str(safe)
    assert cli.main([*command, "--ids-are-safe"]) == 1
    with open(safe / "results.csv", encoding="utf-8-sig", newline="") as stream:
        assert {row["id"] for row in csv.DictReader(stream)} == set(ids)
