"""The report page without a browser: escaping, its security policy, charts, thumbnails, and
the commands that write it (``mmfuse run`` unless ``--no-report``, ``mmfuse report OUT``)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re

import pytest
from helpers.media import make_folder, write_image, write_sliver_jpeg, write_text
from helpers.report_runs import INJECTIONS, social_run
from helpers.toy_task import main as toy
from PIL import Image

from mmfuse.cli import main
from mmfuse.report.charts import bar_chart
from mmfuse.report.page import Page, Section, render
from mmfuse.report.run import run_page
from mmfuse.report.table import rows_table, safe_json
from mmfuse.report.thumbnails import BOX_COLOUR, THUMB_PIXELS, thumbnail

RECORD = {"task": "toy", "command": "mmfuse run toy in -o out", "items": {"total": 2}}


def _page(rows, columns=("id", "text", "error"), sections=()) -> str:
    return render(run_page(RECORD, rows, list(columns), list(sections)))


def _executable_scripts(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, flags=re.S)


def test_cells_cannot_close_the_data_block_or_add_markup():
    rows = [{"id": "a", "text": f"x {INJECTIONS[0]} & {INJECTIONS[1]}", "error": ""}]
    page = _page(rows)
    assert INJECTIONS[0] not in page and INJECTIONS[1] not in page
    assert page.count("</script>") == 2  # the rows' JSON block and the page's script
    data = re.search(r'<script type="application/json" id="rows-table-data">(.*?)</script>', page)
    assert json.loads(data.group(1))["rows"][0][1] == f"x {INJECTIONS[0]} & {INJECTIONS[1]}"
    assert "<" not in safe_json(["</script><!--"]) and ">" not in safe_json(["-->"])


def test_the_policy_allows_only_the_page_script_by_its_hash():
    page = _page([{"id": "a", "text": "hello", "error": ""}])
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    (script,) = _executable_scripts(page)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "unsafe-eval" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]


def test_nothing_is_fetched_from_anywhere(tmp_path):
    out = social_run(tmp_path, n=20)
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, flags=re.I)
    assert "@import" not in page and "url(http" not in page and "<link" not in page
    assert all(
        src.startswith("data:image/jpeg;base64,") for src in re.findall(r'src="([^"]+)"', page)
    )


def test_failures_come_first_and_every_row_is_in_the_table():
    record = {**RECORD, "failures": [{"id": "b", "error": "b.png: not an image"}]}
    rows = [{"id": "a", "text": "fine", "error": ""}, {"id": "b", "error": "b.png: not an image"}]
    page = render(run_page(record, rows, ["id", "text", "error"], []))
    assert page.index('id="failures"') < page.index('id="run"') < page.index('id="rows"')
    assert "b.png: not an image" in page.split('id="run"')[0]


def test_chart_labels_are_text_and_escaped():
    figure = bar_chart("c", "Counts", [INJECTIONS[0], "price $5 and $6"], [3, 1])
    assert "<svg" in figure and "<script>" not in figure and "&lt;script&gt;" in figure
    assert "price $5 and $6" in figure  # no TeX: dollars stay dollars
    page = render(Page("t", sections=[Section("S", [figure])]))
    assert page.count("<script>") == 1


def test_two_charts_never_share_element_ids():
    charts = [bar_chart(name, "Counts", ["a", "b"], [1, 2]) for name in ("one", "two")]
    ids = [set(re.findall(r'id="([^"]+)"', chart)) for chart in charts]
    assert ids[0] and not ids[0] & ids[1]
    for chart, defined in zip(charts, ids, strict=True):
        assert set(re.findall(r'(?:href="#|url\(#)([^")]+)', chart)) <= defined


def _decoded(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_thumbnails_are_small_jpegs_with_boxes_drawn(tmp_path):
    path = tmp_path / "trap.png"
    Image.new("RGB", (800, 600), (20, 60, 20)).save(path)
    plain = _decoded(thumbnail(path))
    assert plain.format == "JPEG" and max(plain.size) == THUMB_PIXELS
    boxed = _decoded(thumbnail(path, boxes=[(0.25, 0.25, 0.5, 0.5)])).convert("RGB")
    edge = [boxed.getpixel((x, 90)) for x in range(58, 63)]  # across the box's left side
    assert any(all(abs(a - b) < 60 for a, b in zip(p, BOX_COLOUR, strict=True)) for p in edge)
    assert boxed.getpixel((THUMB_PIXELS // 2, 90)) == pytest.approx((20, 60, 20), abs=12)


def test_no_thumbnail_of_what_is_not_a_picture(tmp_path):
    assert thumbnail(tmp_path / "missing.jpg") is None
    assert thumbnail(write_text(tmp_path / "post.txt", "hello")) is None
    assert thumbnail(write_text(tmp_path / "fake.jpg", "not a jpeg")) is None
    assert thumbnail(write_sliver_jpeg(tmp_path / "sliver.jpg")) is None  # the readers' checks
    assert thumbnail(write_image(tmp_path / "ok.png", size=(40, 30))).startswith("data:image/jpeg")


def test_rows_table_types_numeric_columns():
    table = rows_table(
        ["id", "score", "note"],
        [{"id": "a", "score": 0.12345, "note": None}, {"id": "b", "score": None, "note": "x"}],
    )
    data = json.loads(re.search(r">(\{.*\})</script>", table).group(1))
    assert data["numeric"] == [False, True, False] and data["rows"][0] == ["a", 0.123, None]


def test_every_run_writes_its_report_unless_told_not_to(tmp_path):
    folder = make_folder(tmp_path / "in", 4)
    write_text(folder / "bad.txt", "")
    assert toy([str(folder), "-o", str(tmp_path / "a"), "--no-cache", "--no-progress"]) == 1
    page = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "bad.txt: empty file" in page and '"item003"' in page
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert "report.html" in manifest["outputs"]
    assert toy([str(folder), "-o", str(tmp_path / "b"), "--no-cache", "--no-report"]) == 1
    assert not (tmp_path / "b" / "report.html").exists()
    assert (
        "report.html" not in json.loads((tmp_path / "b" / "manifest.json").read_text())["outputs"]
    )


def test_report_rebuilds_the_page_from_a_finished_run(tmp_path, capsys):
    folder = make_folder(tmp_path / "in", 3)
    out = tmp_path / "out"
    assert toy([str(folder), "-o", str(out), "--no-cache", "--no-report"]) == 0
    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "mmfuse toy report" in page and '"item002"' in page
    (out / "results.parquet").unlink()  # the CSV is enough
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert '"item002"' in (out / "report.html").read_text(encoding="utf-8")


def test_report_of_a_folder_without_a_run_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_posts_to_read_show_each_listed_post_with_its_picture(tmp_path):
    from mmfuse.tasks.social_media.report import posts_section

    photo = tmp_path / "sarcastic.jpg"
    Image.new("RGB", (320, 240), (200, 40, 40)).save(photo)
    rows = [
        {
            "id": "sarcastic",
            "text": "Fantastic.",
            "sentiment": "negative",
            "sentiment_score": "-0.4",
            "sarcasm_prob": "0.9",
            "incongruity": "",
            "error": "",
        },
        {
            "id": "sincere",
            "text": "Lovely day",
            "sentiment": "positive",
            "sentiment_score": "0.6",
            "sarcasm_prob": "0.1",
            "incongruity": "",
            "error": "",
        },
    ]
    files = {"sarcastic": [photo], "sincere": [tmp_path / "missing.jpg"]}
    page = render(Page("t", sections=[posts_section(rows, files)]))
    assert page.count("data:image/jpeg;base64,") == 2  # listed as most negative and sarcastic
    assert "Most sarcastic" in page and "sincere" not in page
