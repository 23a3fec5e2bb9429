"""mmfuse reaches no network by default: a transcription makes no connection, not even DNS."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "social_media"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_transcription_connects_nowhere(tmp_path):
    log = tmp_path / "strace.log"
    command = [
        *("strace", "-f", "-e", "trace=connect", "-o", str(log)),
        *(sys.executable, "-m", "mmfuse.cli", "transcribe", str(SAMPLE / "post04_headphones.wav")),
        *("--model", "faster-whisper:tiny.en", "-o", str(tmp_path / "out")),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip("strace cannot trace here (no ptrace permission)")
    assert done.returncode == 0, done.stderr
    connects = [line for line in log.read_text().splitlines() if "connect(" in line]
    network = [line for line in connects if "AF_INET" in line]  # AF_UNIX is local IPC
    assert network == [], network[:3]  # no DNS lookup (port 53), no telemetry host
