"""Screenshots of each task's report from ``make demo``'s outputs, for the README and docs/.

    make demo && python scripts/report_screenshots.py [--demo-out out] [TASK ...]

Opens ``out/<task>/report.html`` (what ``make demo`` wrote: the shipped models on
``sample_data/``) in headless Chromium (Debian's ``chromium`` and ``chromium-driver``, with
selenium; emojis need a colour emoji font, Debian's ``fonts-noto-color-emoji``) and saves the
page's top, where the findings are, shrunk to ``WIDTH`` pixels and reduced to a 128-colour
palette, so each PNG stays around 100-200 kB: ``docs/report_<task>.png``.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser helper the tests use

from helpers.browser import chromium, console_errors, full_page_png, missing  # noqa: E402

# task -> its output folder under ``make demo``'s OUT (the Makefile's demo target)
DEMO_FOLDERS = {"social-media": "social_media", "screening": "screening", "wildlife": "wildlife"}
DOCS = ROOT / "docs"
WIDTH = 960  # pixels of the saved screenshot
HEIGHT = 1500  # pixels of page height kept (before shrinking), from the top of the page
COLOURS = 128


def screenshot(report: Path, target: Path) -> None:
    """Saves the top of the report (its title, counts and first findings) as a small PNG."""
    from PIL import Image

    with chromium(1280, 900) as driver:
        driver.get(report.as_uri())
        if errors := console_errors(driver):
            raise SystemExit(f"{report}: console errors: {errors}")
        image = Image.open(io.BytesIO(full_page_png(driver))).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, HEIGHT)))
    image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    image.quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size / 1024:.0f} kB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=list(DEMO_FOLDERS), help="default: all")
    parser.add_argument("--demo-out", type=Path, default=ROOT / "out", help="make demo's OUT")
    args = parser.parse_args(argv)
    if reason := missing():
        print(f"cannot take screenshots: {reason}")
        return 2
    reports = {t: args.demo_out / DEMO_FOLDERS[t] / "report.html" for t in args.tasks}
    if absent := [str(r) for r in reports.values() if not r.is_file()]:
        print(f"no report at {', '.join(absent)}: run `make demo` first")
        return 2
    DOCS.mkdir(exist_ok=True)
    for task, report in reports.items():
        screenshot(report, DOCS / f"report_{task.replace('-', '_')}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
