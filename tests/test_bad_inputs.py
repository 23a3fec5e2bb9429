"""A corpus of bad files: one error row each, good rows intact, inputs untouched."""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from pathlib import Path

import pytest
from helpers.leaks import leaked
from helpers.media import (
    truncate,
    write_bomb_docx,
    write_bomb_png,
    write_image,
    write_sliver_jpeg,
    write_text,
    write_video,
    write_wav,
)
from helpers.toy_task import main

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
FORMULA = '=HYPERLINK("http://x.example","go")'  # within the toy's snippet

# item id -> what its error cell must say ("" for a good item)
EXPECTED = {
    "café 日本": "",
    "clip": "",
    "photo": "",
    "tone": "",
    "empty": "empty file",
    "cut_image": "image file is truncated",
    "cut_audio": "truncated",
    "cut_video": "Invalid data",
    "renamed": "content looks like image, not audio (wrong file extension?)",
    "odd": "unsupported file type .xyz",
    "bomb": "DecompressionBombError",
    "sliver": "image too elongated (60000x3 pixels, sides over 100:1)",
    "zipbomb": "DOCX looks like a zip bomb",
    "latin1": "not UTF-8 text",
    "mute": "video has no audio track",
    "silent": "no speech",
    "gone": "file not found",
    "pipe": "not a regular file",
    "loop": "cannot read (Too many levels of symbolic links)",
}


def _make_corpus(root: Path) -> dict[str, str]:
    write_text(root / "café 日本.txt", FORMULA)
    write_video(root / "clip.mp4")
    write_image(root / "photo.jpg")
    write_wav(root / "tone.wav")
    (root / "empty.png").write_bytes(b"")
    truncate(write_image(root / "cut_image.jpg", size=(64, 64)))
    truncate(write_wav(root / "cut_audio.wav"))
    truncate(write_video(root / "cut_video.mp4"))
    write_image(root / "renamed.wav", fmt="PNG")
    write_image(root / "odd.xyz", fmt="JPEG")
    write_bomb_png(root / "bomb.png")
    write_sliver_jpeg(root / "sliver.jpg")  # 15 kB, 180,000 pixels
    write_bomb_docx(root / "zipbomb.docx")  # 20 MiB of zeros in 20 kB
    (root / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    write_video(root / "mute.mp4", audio=False)
    write_wav(root / "silent.wav", amplitude=0.0)
    os.symlink(root / "nowhere.png", root / "gone.png")
    os.mkfifo(root / "pipe.wav")  # opening it would block forever
    os.symlink("loop.txt", root / "loop.txt")  # points at itself
    (root / "notes.json").write_text("{}")  # not media: no row
    expected = dict(EXPECTED)
    if not IS_ROOT:  # root reads anything, so this case needs an ordinary user
        write_text(root / "locked.txt", "secret").chmod(0)
        expected["locked"] = "permission denied"
    return expected


def _fingerprint(root: Path) -> dict[str, str]:
    """Each entry's type and, for readable regular files, content hash and mtime."""
    prints = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and os.access(path, os.R_OK):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            prints[path.name] = f"{digest} {info.st_mtime_ns} {oct(info.st_mode)}"
        else:
            prints[path.name] = oct(info.st_mode)
    return prints


def test_each_bad_file_gets_one_error_row_and_inputs_stay_untouched(tmp_path, capsys):
    root = tmp_path / "in"
    root.mkdir()
    expected = _make_corpus(root)
    before = _fingerprint(root)

    code = main([str(root), "-o", str(tmp_path / "out"), "--batch-size", "4"])

    assert _fingerprint(root) == before  # same files, bytes, times and modes; nothing added
    with open(tmp_path / "out/results.csv", encoding="utf-8-sig", newline="") as file:
        rows = {row["id"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == sorted(expected)
    for item_id, error in expected.items():
        if error:
            assert error in rows[item_id]["error"], item_id
            assert "\n" not in rows[item_id]["error"]
        else:
            assert rows[item_id]["error"] == "", (item_id, rows[item_id]["error"])
    assert rows["tone"]["seconds"] == "0.5" and rows["photo"]["width"] == "40"
    assert rows["café 日本"]["snippet"] == "'" + FORMULA  # opens as text in a spreadsheet
    failed = sum(1 for e in expected.values() if e)
    assert code == 1
    assert f"{failed} of {len(expected)} items failed" in capsys.readouterr().err


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only folder")
def test_a_read_only_output_folder_is_a_usage_error(tmp_path, capsys):
    write_text(tmp_path / "in" / "a.txt", "hello")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main([str(tmp_path / "in"), "-o", str(out)]) == 2
    finally:
        out.chmod(0o755)
    assert "cannot write to" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_an_output_folder_that_cannot_exist_is_a_usage_error(tmp_path, capsys):
    write_text(tmp_path / "in" / "a.txt", "hello")
    blocker = write_text(tmp_path / "file.txt", "I am a file")
    assert main([str(tmp_path / "in"), "-o", str(blocker / "out")]) == 2
    assert "cannot write to" in capsys.readouterr().err
    assert blocker.read_text() == "I am a file"


def _manifest_rows(
    tmp_path: Path, manifest: str, *flags: str, out: str = "out"
) -> tuple[int, dict[str, dict]]:
    folder = tmp_path / "export"
    write_image(folder / "media" / "dog.jpg")
    (folder / "posts.csv").write_text(manifest, encoding="utf-8")
    code = main([str(folder / "posts.csv"), "-o", str(tmp_path / out), *flags])
    with open(tmp_path / out / "results.csv", encoding="utf-8-sig", newline="") as file:
        return code, {row["id"]: row for row in csv.DictReader(file)}


def test_a_missing_file_in_a_path_column_is_that_rows_error(tmp_path):
    manifest = "id,text,image\na,hello,media/dog.jpg\nb,bye,media/dog\n"
    code, rows = _manifest_rows(tmp_path, manifest)
    assert code == 1
    assert rows["a"]["error"] == "" and rows["a"]["width"] == "40"  # the image was analysed
    assert "file not found" in rows["b"]["error"] and "dog" in rows["b"]["error"]


def test_manifest_paths_stay_inside_the_manifests_folder(tmp_path):
    secret = write_text(tmp_path / "secret.txt", "the password is hunter2")
    manifest = f"id,file\nup,../secret.txt\nabsolute,{secret}\nok,media/dog.jpg\n"
    code, rows = _manifest_rows(tmp_path, manifest)
    assert code == 1 and rows["ok"]["error"] == ""
    for item in ("up", "absolute"):
        assert "outside the manifest's folder" in rows[item]["error"]
    assert "hunter2" not in (tmp_path / "out/results.csv").read_text(encoding="utf-8-sig")

    code, rows = _manifest_rows(tmp_path, manifest, "--allow-outside-paths", out="opt-in")
    assert code == 0 and rows["up"]["snippet"] == "the password is hunter2"


@pytest.mark.slow
def test_media_libraries_warnings_stay_off_stderr(tmp_path):
    import subprocess
    import sys

    (tmp_path / "in").mkdir()
    truncate(write_video(tmp_path / "in" / "cut.mp4"))
    write_text(tmp_path / "in" / "cut.txt", "a caption")
    command = [sys.executable, "-m", "mmfuse.cli", "encode", str(tmp_path / "in"), "-o"]
    done = subprocess.run([*command, str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 1
    # FFmpeg's "[mov,mp4,... @ 0x...] moov atom not found", OpenCV's "[ WARN:0@...]"
    assert not [line for line in done.stderr.splitlines() if line.startswith("[")]


def test_every_reader_error_starts_with_the_files_name(tmp_path):
    from mmfuse.errors import InputError
    from mmfuse.io.audio import load_audio
    from mmfuse.io.documents import read_document
    from mmfuse.io.image import load_image
    from mmfuse.io.video import probe_video

    cases = [
        (load_image, truncate(write_image(tmp_path / "cut_image.jpg", size=(64, 64)))),
        (load_audio, write_image(tmp_path / "renamed.wav", fmt="PNG")),
        (probe_video, write_text(tmp_path / "fake.mp4", "not a video")),
        (read_document, tmp_path / "empty.pdf"),
    ]
    (tmp_path / "empty.pdf").write_bytes(b"%PDF-1.4 broken")
    for read, path in cases:
        with pytest.raises(InputError) as error:
            read(path)
        assert str(error.value).startswith(f"{path.name}: "), str(error.value)


# -- screening (#25): inputs that carry personal data or mislead the screening ---------------
# Folder names that carry personal data: a name with a title, a name and a year, a phone
# number, an e-mail address.
PII_FOLDERS = (
    "Dr Ignatia Q Blomqvist-Harrow",
    "Cornelius_Vandermeer_1985",
    "okonkwo-m-+44 7700 900123",
    "ignatius.fairweather@example.org",
)


# The candidates' folders, their files and what each row must show. The texts are the PII
# tests' own (names in sentences, identifiers, a CV with every contact detail) and the
# screening task tests' (a CV, a cover letter, the same CV in German and in French).
def _screening_corpus(root: Path) -> dict[str, dict[str, str | bytes]]:
    from test_screening_pii import CV, IDENTIFIER_CV, NAMES_IN_SENTENCES, NEAR_MISSES
    from test_screening_task import COVER_LETTER, FRENCH, GERMAN, STRONG

    folders: dict[str, dict[str, str | bytes]] = {i: {"cv.txt": STRONG} for i in PII_FOLDERS}
    folders.update(
        {
            "big_txt": {"cv.txt": CV},  # every contact detail, a name in sentences
            "cand_pm": {"cv.txt": IDENTIFIER_CV + "\n".join(NEAR_MISSES) + "\n"},
            "candidate_07": {"resume.txt": STRONG, "cover_letter.txt": COVER_LETTER},
            "cand_de": {"lebenslauf.txt": GERMAN},
            "cand_fr": {"cv.txt": FRENCH},
            "cand_q": {  # a question that names a person (no interview: never read)
                "cv.txt": STRONG,
                "questions.txt": "Ottoline Fenwright-Sage, tell us about a project you led.\n",
            },
            "cand_f1": {"Marguerite_Okonkwo_CV.pdf": b"\x00garbage, not a PDF\xff"},
            "cand_f2": {
                "Resume - Theodosia Wrenfield-Abara (theodosia.wa@example.com).pdf": b"%PDF-1.4 x"
            },
        }
    )
    for number, (text, _) in enumerate(NAMES_IN_SENTENCES.values()):
        folders[f"cand_n{number}"] = {"cv.txt": text}  # stated, header, signature, e-mail
    for item_id, files in folders.items():
        (root / item_id).mkdir(parents=True)
        for name, content in files.items():
            path = root / item_id / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    return folders


# Nothing of these reaches a row, the report, the Parquet file, the manifest, the cache or a log.
SCREENING_PII = (
    "Ignatia", "Blomqvist", "Harrow", "Cornelius", "Vandermeer", "7700", "900123", "Ignatius",
    "Fairweather", "Marguerite", "Okonkwo", "Larkspur", "7946", "Nguyễn", "Nguyen", "Minh",
    "Khai", "Ottoline", "Fenwright", "Wrenfield", "Abara", "Theodosia", "QQ 12", ": 123456789",
    "AB1234567", "GB82", "4111 1111 1111 1111", "SW1A", "fourteenth of March",
)  # fmt: skip


@pytest.mark.slow
def test_screening_bad_inputs_leave_no_personal_data_and_read_the_right_cv(
    tmp_path, caplog, capfd, monkeypatch, one_torch_thread
):
    import json
    import logging

    import pyarrow.parquet as pq
    from helpers.tiny_text import save_tiny_sentence_transformer
    from test_screening_task import JOB

    from mmfuse import cli

    cache = tmp_path / "cache"
    monkeypatch.setenv("MMFUSE_CACHE", str(cache))
    root = tmp_path / "in"
    folders = _screening_corpus(root)
    before = _fingerprint(root)
    model = save_tiny_sentence_transformer(tmp_path / "tiny", ["python", "team", "engineer"], 16)
    job = write_text(tmp_path / "job.txt", JOB)
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    code = cli.main(
        ["run", "screening", str(root), "--job", str(job), "-o", str(out), "--as-of",
         "2026-01-01", "--text-model", f"sentence-transformers:{model}", "--no-progress", "-v"]
    )  # fmt: skip

    assert code == 1 and _fingerprint(root) == before
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as file:
        rows = {row["id"]: row for row in csv.DictReader(file)}
    kept = sorted(set(folders) - set(PII_FOLDERS))  # big_txt, cand_pm, candidate_07, ...
    assert sorted(i for i in rows if not i.startswith("cand-")) == kept
    assert len(rows) == len(folders)  # the four ids with personal data: cand-<hash>
    for failed in ("cand_f1", "cand_f2"):
        assert rows[failed]["error"].startswith("CV (pdf): corrupt or truncated PDF")
    assert sum(bool(row["error"]) for row in rows.values()) == 2
    assert "not screened: a cover letter (txt)" in rows["candidate_07"]["notes"]
    assert rows["candidate_07"]["must_have_met"] == rows["cand_q"]["must_have_met"] == "2"
    assert (rows["cand_de"]["cv_language"], rows["cand_fr"]["cv_language"]) == ("de", "fr")
    assert float(rows["cand_de"]["years_experience"]) > 10
    assert float(rows["cand_fr"]["years_experience"]) > 9
    assert "CV in German (de)" in rows["cand_de"]["notes"]
    printed = capfd.readouterr()
    files = [p for folder in (out, cache) for p in folder.rglob("*") if p.is_file()]
    # (Parquet's bytes hold runs like b"0123456789" by chance: its values are read instead)
    haystacks = [
        (str(p), p.read_bytes().decode("utf-8", "replace")) for p in files if p.suffix != ".parquet"
    ]
    haystacks.append(
        ("parquet", json.dumps(pq.read_table(out / "results.parquet").to_pylist(), default=str))
    )
    haystacks.append(("logs", caplog.text + printed.out + printed.err))
    assert {"report.html", "manifest.json", "summary.csv"} <= {Path(w).name for w, _ in haystacks}
    for where, text in haystacks:
        assert not leaked(SCREENING_PII, text), f"{leaked(SCREENING_PII, text)!r} in {where}"


# -- audit (#25 items 3, 4): tied and duplicated rows, unscored rows, one group --------------
def _audit_rows(tmp_path: Path, results: list[str], groups: list[str], *flags: str) -> int:
    from mmfuse import cli

    write_text(tmp_path / "results.csv", "\n".join(["id,fit_score,error", *results]) + "\n")
    write_text(tmp_path / "groups.csv", "\n".join(["id,group", *groups]) + "\n")
    return cli.main(
        ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv"),
         "--group-column", "group", *flags]
    )  # fmt: skip


_SCORES = [f"{g}{i},{80 if i < 3 else 40}," for g in "AB" for i in range(6)]
_GROUPS = [f"{g}{i},{g}" for g in "AB" for i in range(6)]
# case -> (results, groups, flags, exit code, what stderr or stdout says)
AUDIT_CORPUS = {
    "tied at the cut-off": (
        [f"{g}{i},{90 if i < (4 if g == 'A' else 5) else 50}," for g in "AB" for i in range(10)],
        [f"{g}{i},{g}" for g in "AB" for i in range(10)],
        ("--top", "5"), 0, "the 4 tied with the last of them",
    ),
    "a duplicated id in groups": (_SCORES, [*_GROUPS, "B1,A"], ("--top", "6"), 2, "'B1' appears"),
    "a duplicated id in results": ([*_SCORES, "B1,80,"], _GROUPS, ("--top", "6"), 2, "'B1'"),
    "unscored rows": (
        [*_SCORES, "A6,,", "A7,nan,", "A8,,could not read the CV"],
        [*_GROUPS, "A6,A", "A7,A", "A8,A"], ("--threshold", "70"), 0, "3 row(s) without a score",
    ),
    "one group": (_SCORES[:6], _GROUPS[:6], ("--top", "3"), 0, "nothing to compare"),
    "a threshold of nan": (_SCORES, _GROUPS, ("--threshold=nan",), 2, "not a finite number"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(AUDIT_CORPUS))
def test_audit_bad_inputs_are_refused_or_reported(tmp_path, capsys, case):
    results, groups, flags, code, said = AUDIT_CORPUS[case]
    assert _audit_rows(tmp_path, results, groups, *flags) == code
    printed = capsys.readouterr()
    assert said in printed.out + printed.err
    if case == "tied at the cut-off":  # the same selection whatever the row order
        assert _audit_rows(tmp_path, results[::-1], groups, *flags) == 0
        assert capsys.readouterr().out == printed.out


# -- a screening head (#25 item 2): flipped weights, swapped classes, a truncated file -------
def _flip_weights(folder: Path) -> None:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    data[start:] = bytes(b ^ 0xFF for b in data[start:])
    path.write_bytes(bytes(data))


def _swap_classes(folder: Path) -> None:
    import json

    config = json.loads((folder / "config.json").read_text())
    config["tasks"][0]["classes"].reverse()
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("tamper", "said"),
    [(_flip_weights, "SHA-256"), (_swap_classes, "SHA-256"), (truncate, "")],
)
def test_a_tampered_screening_head_is_refused(tmp_path, tamper, said):
    from mmfuse.errors import ModelUnavailable, UsageError
    from mmfuse.fusion.model import save_model
    from mmfuse.tasks.screening.head import Head, Target, build_head

    folder = tmp_path / "head"
    save_model(build_head(Target("decision", ("hire", "reject")), 8, {}).eval(), folder)
    Head(folder)  # as written: loads
    if tamper is truncate:
        truncate(folder / "model.safetensors")
    else:
        tamper(folder)
    with pytest.raises((ModelUnavailable, UsageError)) as refused:
        Head(folder)
    assert said in str(refused.value) and "\n" not in str(refused.value)
