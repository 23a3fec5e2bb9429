"""What the benchmarks share: the machine's description, peak memory, word error rate, data.

Every comparison is timed against its alternative in the same process and run, and reported
as a ratio: the machine is shared, so absolute rates move from run to run.
"""

from __future__ import annotations

import os
import platform
import re
import resource
from pathlib import Path

from mmfuse import config


def shared_data(relative: str) -> Path | None:
    """``../shared/data/RELATIVE`` when present (else None: the benchmark says so, exits 0)."""
    path = config.shared_data_dir() / relative
    return path if path.exists() else None


def load() -> str:
    """The load averages over 1, 5 and 15 minutes, as ``uptime`` prints them."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def machine() -> str:
    """One line: CPU model, cores, memory, load."""
    model = platform.processor() or platform.machine()
    units = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                have = [
                    f for f in ("avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags
                ]
                units = f" ({', '.join(have) or 'no AVX-512'})"
                break
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        memory_kb = 0
    return (
        f"{model}{units}, {os.cpu_count()} cores, {memory_kb / 2**20:.0f} GiB, "
        f"load average {load()}"
    )


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Resets this process's peak RSS (``VmHWM``) to its current RSS; False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def current_peak_rss_mb() -> float:
    """``VmHWM`` of this process in MB (the peak since the last ``reset_peak_rss``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def words(text: str) -> list[str]:
    """Lowercased words without punctuation (the WER normalisation; tests/test_speech.py too)."""
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words: substitutions + deletions + insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hypothesis, start=1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word)),
            )
    return row[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``."""
    ref = words(reference)
    return word_errors(ref, words(hypothesis)) / max(1, len(ref))
