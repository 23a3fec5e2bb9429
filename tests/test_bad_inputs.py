"""A corpus of bad files: one error row each, good rows intact, inputs untouched."""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from pathlib import Path

import pytest
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
