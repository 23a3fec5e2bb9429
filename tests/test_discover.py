"""Discovery: folders grouped into items, hidden files and loops, manifests."""

from __future__ import annotations

import json
import os

import pytest
from helpers.media import write_image, write_text, write_wav

from mmfuse.errors import UsageError
from mmfuse.io.discover import discover, read_manifest, sniff_kind


def _ids(items):
    return [item.id for item in items]


def test_files_sharing_a_stem_form_one_item(tmp_path):
    write_image(tmp_path / "post1.png")
    write_text(tmp_path / "post1.txt", "caption")
    write_wav(tmp_path / "post2.wav")
    items = discover(tmp_path)
    assert _ids(items) == ["post1", "post2"]
    assert [p.name for p in items[0].paths] == ["post1.png", "post1.txt"]


def test_one_item_per_sub_folder_when_each_looks_like_a_post(tmp_path):
    for name in ("b_post", "a_post"):
        write_image(tmp_path / name / "photo.png")
        write_text(tmp_path / name / "caption.txt", name)
    items = discover(tmp_path)
    assert _ids(items) == ["a_post", "b_post"]
    assert [p.name for p in items[0].paths] == ["caption.txt", "photo.png"]


def test_camera_folders_keep_one_item_per_file(tmp_path):
    for i in range(2):
        write_image(tmp_path / "cam1" / f"IMG_{i}.png", seed=i)
    write_image(tmp_path / "cam2" / "IMG_0.png")
    assert _ids(discover(tmp_path)) == ["cam1/IMG_0", "cam1/IMG_1", "cam2/IMG_0"]
    assert _ids(discover(tmp_path, group_by="folder")) == ["cam1", "cam2"]


def test_hidden_files_and_folders_are_ignored(tmp_path):
    write_text(tmp_path / "a.txt", "x")
    write_text(tmp_path / ".hidden.txt", "x")
    write_text(tmp_path / ".git" / "b.txt", "x")
    assert _ids(discover(tmp_path)) == ["a"]


def test_symlink_loops_end_and_nothing_is_listed_twice(tmp_path):
    write_text(tmp_path / "sub" / "a.txt", "x")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    os.symlink(tmp_path / "sub", tmp_path / "again")
    items = discover(tmp_path, group_by="stem")
    assert len(items) == 1 and items[0].paths[0].name == "a.txt"


def test_non_recursive_stays_at_the_top(tmp_path):
    write_text(tmp_path / "a.txt", "x")
    write_text(tmp_path / "sub" / "b.txt", "x")
    assert _ids(discover(tmp_path, recursive=False)) == ["a"]
    assert _ids(discover(tmp_path)) == ["a", "sub/b"]


def test_unknown_types_are_kept_only_when_they_look_like_media(tmp_path):
    write_text(tmp_path / "a.txt", "x")
    (tmp_path / "notes.json").write_text("{}")
    write_image(tmp_path / "photo.xyz", fmt="JPEG")
    os.symlink(tmp_path / "gone.png", tmp_path / "broken.png")
    items = discover(tmp_path)
    assert _ids(items) == ["a", "broken", "photo"]  # the engine reports the last two
    assert sniff_kind(tmp_path / "photo.xyz") == "image"
    assert sniff_kind(tmp_path / "a.txt") is None


def test_a_single_file_is_one_item_with_an_absolute_path(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "talk.wav")
    monkeypatch.chdir(tmp_path)
    (item,) = discover("talk.wav")
    assert item.id == "talk" and item.paths == (path,)


def test_missing_or_empty_input_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no media files"):
        discover(tmp_path / "empty")
    with pytest.raises(UsageError, match="grouping"):
        discover(tmp_path, group_by="size")


def test_csv_manifest_with_relative_paths_text_and_meta(tmp_path):
    write_image(tmp_path / "media" / "p1.png")
    (tmp_path / "posts.csv").write_text(
        'id,text,image,author\np1,"Loving it, really",media/p1.png,ann\np2,=HYPERLINK(x),,bob\n',
        encoding="utf-8",
    )
    first, second = discover(tmp_path / "posts.csv")
    assert first.id == "p1" and first.text == "Loving it, really"
    assert first.paths == (tmp_path / "media" / "p1.png",)
    assert first.meta == {"author": "ann"}
    assert second.paths == () and second.text == "=HYPERLINK(x)"


def test_jsonl_manifest_keeps_its_order_and_takes_lists_of_paths(tmp_path):
    lines = [
        {"id": 7, "caption": "b", "files": ["x.png", "x.wav"], "likes": 3},
        {"id": 2, "caption": "a", "files": ["y.png"]},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    items = read_manifest(path)
    assert _ids(items) == ["7", "2"]
    assert [p.name for p in items[0].paths] == ["x.png", "x.wav"]
    assert items[0].meta == {"likes": "3"} and items[1].meta == {"likes": ""}


def test_manifest_problems_are_usage_errors(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,text\na,x\nb,y\na,z\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"duplicate id 'a' \(lines 2 and 4\)"):
        read_manifest(path)
    path.write_text("name,text\na,x\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no column 'id'"):
        read_manifest(path)
    path.write_bytes(b"id,text\na,caf\xe9\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_manifest(path)
    path.write_text("id,text\n,x\n", encoding="utf-8")
    with pytest.raises(UsageError, match="empty 'id'"):
        read_manifest(path)


def test_a_manifest_without_a_text_or_path_column_is_a_usage_error(tmp_path, capsys):
    """Issue 24 #5: a CSV whose text is in ``message`` failed every row with "no input files";
    now one line names its columns and the flag, and the run stops before any model loads."""
    from mmfuse.cli import main

    path = tmp_path / "posts.csv"
    path.write_text("id,message,author\n1,my flight was cancelled again,ann\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"columns: id, message, author.*--text-column message"):
        read_manifest(path)
    assert read_manifest(path, text_columns=["message"])[0].text == "my flight was cancelled again"
    assert main(["run", "social-media", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--text-column" in err and "message" in err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_a_manifest_with_a_byte_order_mark_reads_its_id_column(tmp_path):
    """A table saved by Excel (or written by mmfuse) starts with a BOM; its first column is
    still ``id``."""
    path = tmp_path / "posts.csv"
    path.write_bytes("id,text\n1,café\n".encode("utf-8-sig"))
    assert [(i.id, i.text) for i in read_manifest(path)] == [("1", "café")]


def test_one_item_per_file_keeps_stem_ids_and_names_files_that_share_one(tmp_path):
    write_image(tmp_path / "cam1" / "IMG_0001.JPG", fmt="JPEG")
    write_image(tmp_path / "cam1" / "IMG_0002.JPG", fmt="JPEG")
    write_wav(tmp_path / "cam1" / "IMG_0002.wav")
    write_image(tmp_path / "b.png")
    write_image(tmp_path / "b.jpg", fmt="JPEG")
    write_image(tmp_path / "b.jpg.png")  # its stem is another's name: it keeps its own name
    items = discover(tmp_path, group_by="file")
    assert _ids(items) == [
        "b.jpg", "b.jpg.png", "b.png", "cam1/IMG_0001", "cam1/IMG_0002.JPG", "cam1/IMG_0002.wav",
    ]  # fmt: skip
    assert all(len(item.paths) == 1 for item in items)
