"""Each task's report in headless Chromium: what a reader sees, clicks and types.

Skipped with one line when Debian's chromium, its driver or selenium is missing (``.ci/run``
installs them). The runs are precomputed rows (``helpers.report_runs``) with pictures from
sample_data and captions that try to inject a script; ``mmfuse report`` builds the pages.
"""

from __future__ import annotations

import pytest
from helpers.browser import chromium, console_errors, missing
from helpers.report_runs import INJECTIONS, screening_run, social_run, wildlife_run

from mmfuse.cli import main

pytestmark = pytest.mark.skipif(bool(missing()), reason=missing() or "browser present")


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def _report(tmp_path_factory, make_run):
    out = make_run(tmp_path_factory.mktemp("report"))
    assert main(["report", str(out)]) == 0
    return (out / "report.html").as_uri()


def _open(browser, uri: str):
    """The page in the browser (loaded again only when another page is showing)."""
    if browser.current_url != uri:
        browser.get(uri)
    return browser


@pytest.fixture(scope="module")
def social_report(tmp_path_factory):
    return _report(tmp_path_factory, social_run)


@pytest.fixture(scope="module")
def screening_report(tmp_path_factory):
    return _report(tmp_path_factory, screening_run)


@pytest.fixture(scope="module")
def wildlife_report(tmp_path_factory):
    return _report(tmp_path_factory, wildlife_run)


@pytest.fixture
def social_page(browser, social_report):
    return _open(browser, social_report)


@pytest.fixture
def screening_page(browser, screening_report):
    return _open(browser, screening_report)


@pytest.fixture
def wildlife_page(browser, wildlife_report):
    return _open(browser, wildlife_report)


def _visible_column(driver, column: str) -> list[str]:
    """The cells of ``column`` in the rows table's visible page."""
    return driver.execute_script(
        """
        const table = document.querySelector('#rows-table table');
        const names = [...table.querySelectorAll('thead th')].map(th => th.textContent);
        const c = names.indexOf(arguments[0]);
        return [...table.querySelectorAll('tbody tr')].map(tr => tr.children[c].textContent);
        """,
        column,
    )


def _status(driver) -> str:
    """The table's status line, its en dash as a hyphen: "1-50 of 120 rows, page 1 of 3"."""
    return driver.find_element("css selector", "#rows-table .rows-status").text.replace(
        "\u2013", "-"
    )


def _header(driver, column: str):
    return driver.find_element("xpath", f"//div[@id='rows-table']//th[button='{column}']/button")


def _type(box, text: str) -> None:
    """Replaces the text in an input box as a user does: select all, then type (or delete)."""
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text or Keys.DELETE)


def test_page_opens_without_console_errors_or_dialogs(social_page):
    assert console_errors(social_page) == []
    assert social_page.execute_script("return window.__dialogs") == []
    sections = social_page.find_elements("css selector", "main > section")
    ids = [s.get_attribute("id") for s in sections]
    assert ids[:2] == ["glance", "social-sentiment"] and ids[-3:] == ["failures", "rows", "run"]


def test_failures_are_listed_with_their_error(social_page):
    failures = social_page.find_element("id", "failures").text
    assert "post00119" in failures and "empty file" in failures


def test_the_run_shows_command_models_and_licences(social_page):
    run = social_page.find_element("id", "run").text
    assert "mmfuse run social-media" in run
    assert "timm:tf_efficientnet_lite0" in run and "Apache-2.0" in run
    assert "customer service" in run  # the options


@pytest.mark.parametrize(
    "chart",
    ["sentiment-by-topic", "emotions-by-topic", "sentiment-by-brand", "sentiment-over-time",
     "attention-shares"],
)  # fmt: skip
def test_the_social_charts_are_drawn(social_page, chart):
    figure = social_page.find_element("css selector", f"figure[data-chart='{chart}'] svg")
    assert figure.size["width"] > 200 and figure.size["height"] > 100
    assert figure.find_elements("css selector", "text")  # axis labels as text


def test_rows_are_paged_sorted_and_filtered(social_page):
    assert len(_visible_column(social_page, "id")) == 50
    assert _status(social_page).startswith("1-50 of 120 rows")
    _header(social_page, "sentiment_score").click()
    ascending = [float(v) for v in _visible_column(social_page, "sentiment_score")]
    assert ascending == sorted(ascending) and ascending[0] == -1.0
    _header(social_page, "sentiment_score").click()
    descending = [float(v) for v in _visible_column(social_page, "sentiment_score")]
    assert descending == sorted(descending, reverse=True) and descending[0] > 0.9
    social_page.find_element("xpath", "//div[@id='rows-table']//button[.='next']").click()
    assert _status(social_page).startswith("51-100 of 120")
    box = social_page.find_element("css selector", "#rows-table input[type=search]")
    _type(box, "globex")
    brands = _visible_column(social_page, "brand")
    assert brands and set(brands) == {"globex"}
    assert "filtered from 120" in _status(social_page)
    _type(box, "onerror=")
    assert _visible_column(social_page, "brand")[0] == INJECTIONS[1]  # shown as text
    _type(box, "")  # the box emptied: every row again
    assert _status(social_page).startswith("1-50 of 120 rows")


def test_thumbnails_load(social_page):
    images = social_page.find_elements("css selector", "#social-posts img")
    assert len(images) >= 2  # the garden photo and the launch video's frame
    for image in images:
        assert social_page.execute_script("return arguments[0].naturalWidth", image) > 0
        assert image.get_attribute("src").startswith("data:image/jpeg;base64,")


def test_injected_captions_are_text_and_run_nothing(social_page):
    posts = social_page.find_element("id", "social-posts").text
    assert INJECTIONS[0] in posts  # the caption and transcript, as written
    assert not social_page.find_elements("css selector", "img[src='x']")
    scripts = social_page.find_elements("css selector", "script:not([type='application/json'])")
    assert len(scripts) == 1  # the page's own, allowed by its hash
    assert social_page.execute_script("return window.__dialogs") == []
    assert console_errors(social_page) == []  # a blocked inline handler would log a CSP error


def test_screening_says_it_assists_and_never_shows_a_photo(screening_page):
    assert console_errors(screening_page) == []
    note = screening_page.find_element("id", "assists-note")
    assert note.is_displayed() and "does not decide" in note.text
    assert screening_page.find_elements("css selector", "img") == []  # each CV had a photo


@pytest.mark.parametrize("chart", ["fit-score-parts", "requirement-coverage", "audit-audit"])
def test_the_screening_charts_are_drawn(screening_page, chart):
    figure = screening_page.find_element("css selector", f"figure[data-chart='{chart}'] svg")
    assert figure.size["width"] > 200 and figure.find_elements("css selector", "text")


def test_screening_ranks_and_shows_the_evidence(screening_page):
    ranking = screening_page.find_element("id", "screening-ranking").text
    assert "1. cand-" in ranking and "cand-11" not in ranking  # the failed one is not ranked
    every = screening_page.find_elements("css selector", "#screening-evidence details")
    assert every[0].find_element("css selector", "table").is_displayed()  # the top ones open
    details = next(d for d in every if d.get_attribute("open") is None)  # the others closed
    assert not details.find_element("css selector", "table").is_displayed()
    details.find_element("css selector", "summary").click()
    evidence = details.find_element("css selector", "table")
    assert evidence.is_displayed() and "requirement" in evidence.text
    assert INJECTIONS[0] in screening_page.find_element("id", "screening-evidence").text
    audit = screening_page.find_element("id", "screening-audit").text
    assert "four_fifths" in audit and INJECTIONS[1] in audit
    assert screening_page.execute_script("return window.__dialogs") == []


@pytest.mark.parametrize(
    "chart",
    ["files-per-species", "events-per-species", "files-per-site", "files-per-camera",
     "activity-by-hour"],
)  # fmt: skip
def test_the_wildlife_charts_are_drawn(wildlife_page, chart):
    figure = wildlife_page.find_element("css selector", f"figure[data-chart='{chart}'] svg")
    assert figure.size["width"] > 200 and figure.find_elements("css selector", "text")


def test_wildlife_events_show_animals_with_boxes_never_people(wildlife_page):
    assert console_errors(wildlife_page) == []
    images = wildlife_page.find_elements("css selector", "#wildlife-events .strip img")
    labels = [image.get_attribute("alt") for image in images]
    assert len(labels) == 4 and all("cam01/IMG_0003" not in a for a in labels)  # the person
    assert not any("IMG_0004" in a or "cam02/IMG_0002" in a for a in labels)  # blank, person
    for image in images:
        assert wildlife_page.execute_script("return arguments[0].naturalWidth", image) > 0
    counts = wildlife_page.find_element("id", "wildlife-counts").text
    assert "with people" in counts and INJECTIONS[0] not in labels
    events = wildlife_page.find_element("id", "wildlife-events").text
    assert INJECTIONS[0] in events  # a species name from the list, as text
    assert "broken.jpg: not an image" in wildlife_page.find_element("id", "failures").text
    assert wildlife_page.execute_script("return window.__dialogs") == []


def test_the_policy_blocks_markup_that_escaping_would_have_missed(tmp_path, browser):
    from mmfuse.report.page import Html, Page, Section, render

    raw = Html(f"<p>{INJECTIONS[1]} {INJECTIONS[0]}</p>")  # deliberately not escaped
    page = tmp_path / "raw.html"
    page.write_text(render(Page("t", sections=[Section("S", [raw])])), encoding="utf-8")
    browser.get(page.as_uri())
    assert browser.execute_script("return window.__dialogs") == []
    blocked = console_errors(browser)
    assert len(blocked) == 3 and all("Content Security Policy" in e for e in blocked)
