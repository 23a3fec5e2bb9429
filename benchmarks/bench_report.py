"""Report benchmark: a 10,000-row social-media report, built, opened and filtered in Chromium.

The rows are precomputed (``tests/helpers/report_runs.py``: the real task's 29 columns, two
pictures from sample_data); ``mmfuse report OUT`` builds the page in a fresh process (timed
end to end, interpreter start included). Headless Chromium (Debian's, with selenium) then
opens it (navigation start to the end of the load event, the rows table drawn), filters
the rows by typing a brand and sorts them by a column (each from the input event to the
redrawn table, layout included). Target: opening and filtering each under a second.

    python -m benchmarks.bench_report [--rows 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the helpers the tests use

from helpers.browser import chromium, console_errors, missing  # noqa: E402
from helpers.report_runs import social_run  # noqa: E402

TARGET_SECONDS = 1.0
# Milliseconds from the navigation's start to the end of its load event (the script has run).
LOAD_MS = """
const n = performance.getEntriesByType('navigation')[0];
return [n.loadEventEnd - n.startTime, document.querySelectorAll('#rows-table tbody tr').length];
"""
# Milliseconds to apply a filter (or a sort) and lay the table out again.
FILTER_MS = """
const box = document.querySelector('#rows-table input[type=search]');
const t = performance.now();
box.value = arguments[0];
box.dispatchEvent(new Event('input'));
document.body.offsetHeight;
const ms = performance.now() - t;
return [ms, document.querySelector('#rows-table .rows-status').textContent];
"""
SORT_MS = """
const t = performance.now();
document.querySelector("#rows-table th:nth-child(8) button").click();
document.body.offsetHeight;
return performance.now() - t;
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if reason := missing():
        print(f"skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = social_run(Path(tmp), n=args.rows)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mmfuse.cli", "report", str(out)], check=True,
                       env=env, capture_output=True)  # fmt: skip
        build = time.perf_counter() - start
        page = out / "report.html"
        size = page.stat().st_size
        loads, filters, sorts = [], [], []
        with chromium() as driver:
            for _ in range(args.repeat):
                driver.get(page.as_uri())
                load_ms, shown = driver.execute_script(LOAD_MS)
                filter_ms, status = driver.execute_script(FILTER_MS, "globex")
                loads.append(load_ms)
                filters.append(filter_ms)
                sorts.append(driver.execute_script(SORT_MS))
            errors = console_errors(driver)
    print(f"rows: {args.rows:,}; report.html: {size / 1e6:.2f} MB; built in {build:.1f} s")
    print(f"open: {statistics.median(loads):.0f} ms (median of {args.repeat}; {shown} rows drawn)")
    print(f"filter 'globex': {statistics.median(filters):.0f} ms -> {status}")
    print(f"sort by a column: {statistics.median(sorts):.0f} ms")
    print(f"console errors: {len(errors)}")
    slow = max(statistics.median(loads), statistics.median(filters)) / 1000 > TARGET_SECONDS
    print(f"target (open and filter under {TARGET_SECONDS:.0f} s): {'missed' if slow else 'met'}")
    return 1 if slow or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
