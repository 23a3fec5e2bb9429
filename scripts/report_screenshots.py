"""Screenshots of each task's report on its sample data, for the README (docs/report_*.png).

    python scripts/report_screenshots.py [--out /tmp/mmfuse-screenshots] [TASK ...]

Runs ``mmfuse run TASK sample_data/... -o OUT/TASK`` (the shipped models, offline), opens the
report in headless Chromium (Debian's ``chromium`` and ``chromium-driver``, with selenium)
and saves the page from the task's first section down, shrunk to ``WIDTH`` pixels and reduced
to a 128-colour palette, so each PNG stays around 100-200 kB.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser helper the tests use

from helpers.browser import chromium, console_errors, full_page_png, missing  # noqa: E402

from mmfuse.cli import main as mmfuse  # noqa: E402

# task -> (sample input, extra flags of `mmfuse run`)
SAMPLES = {
    "social-media": ("sample_data/social_media", []),
    "screening": ("sample_data/screening/candidates", ["--job", "sample_data/screening/job.txt"]),
    "wildlife": ("sample_data/wildlife/survey", ["--species", "sample_data/wildlife/species.txt"]),
}
DOCS = ROOT / "docs"
WIDTH = 960  # pixels of the saved screenshot
HEIGHT = 1500  # pixels of page height kept (before shrinking), from the task's first section
COLOURS = 128


def screenshot(report: Path, target: Path) -> None:
    """Saves the report's task sections (or its top) as a small PNG."""
    from PIL import Image

    with chromium(1280, 900) as driver:
        driver.get(report.as_uri())
        if errors := console_errors(driver):
            raise SystemExit(f"{report}: console errors: {errors}")
        top = driver.execute_script(
            "const s = document.querySelectorAll('main > section:not(#failures):not(#run)');"
            "return s.length ? s[0].getBoundingClientRect().top + window.scrollY - 16 : 0;"
        )
        image = Image.open(io.BytesIO(full_page_png(driver))).convert("RGB")
    image = image.crop((0, int(top), image.width, min(image.height, int(top) + HEIGHT)))
    image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    image.quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size / 1024:.0f} kB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=list(SAMPLES), help="tasks (default: all)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mmfuse-shots")
    args = parser.parse_args(argv)
    if reason := missing():
        print(f"cannot take screenshots: {reason}")
        return 2
    DOCS.mkdir(exist_ok=True)
    os.chdir(ROOT)  # the samples' paths and flags are relative to the repository
    for task in args.tasks:
        source, flags = SAMPLES[task]
        out = args.out / task
        code = mmfuse(["-q", "run", task, source, "-o", str(out), "--overwrite",
                       "--no-progress", *flags])  # fmt: skip
        if code not in (0, 1):
            return code
        screenshot(out / "report.html", DOCS / f"report_{task.replace('-', '_')}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
