"""Speech: ``mmfuse transcribe`` against openai-whisper, the same Whisper base weights.

The audio is every reference clip of ``../shared/data/speech`` (jfk, deepspeech, cards: 27 s of
real speech), each followed by a second of silence, repeated until it lasts at least
``--seconds`` (default 180); the reference text is theirs, in the same order. In one process,
models loaded beforehand:

- mmfuse: ``SpeechEncoder.transcribe`` of ``faster-whisper:base`` (what ``mmfuse transcribe``
  runs: Silero VAD, beam search of 5, CTranslate2 int8 on CPU);
- the same in float32, CTranslate2's compute type on CPU before this benchmark made int8 the
  default;
- the alternative: ``whisper.transcribe`` of openai-whisper with the same weights
  (``openai-whisper:base``, converted from the packaged CTranslate2 ones) and the defaults of the
  ``whisper`` command line (beam search of 5, best of 5, fp32 on CPU).

Printed: each one's real-time factor (seconds of compute per second of audio), the speed-up and
each one's word error rate. Target: at least 3x at an equal or lower WER. Run from the
repository root: ``python -m benchmarks.bench_speech [--seconds 180] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import load, shared_data, wer

TARGET = 3.0
GAP_S = 1.0  # silence after each clip
SAMPLE_RATE = 16000


def references(speech) -> list[tuple[object, str]]:
    """(audio file, reference text) of every clip with a transcript."""
    pairs = [(speech / "jfk" / "jfk.flac", (speech / "jfk" / "jfk.ref.txt").read_text())]
    ldc = (speech / "deepspeech" / "LDC93S1.txt").read_text().split(maxsplit=2)[2]
    pairs.append((speech / "deepspeech" / "LDC93S1.wav", ldc))
    home = speech / "deepspeech" / "new-home-in-the-stars-16k"
    pairs.append((home.with_suffix(".wav"), home.with_suffix(".ref.txt").read_text()))
    for line in (speech / "cards" / "cards.transcription").read_text().splitlines():
        text, _, name = line.replace("<s>", "").replace("</s>", "").rpartition("(")
        if name:
            pairs.append((speech / "cards" / f"{name.strip(') ')}.wav", text.strip()))
    return pairs


def long_audio(speech, seconds: float) -> tuple[np.ndarray, str]:
    """float32 [n] 16 kHz audio of at least ``seconds``, and its reference text."""
    from mmfuse.io.audio import load_audio

    clips = [(load_audio(path), text) for path, text in references(speech)]
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    parts, texts, total = [], [], 0
    while total < seconds * SAMPLE_RATE:
        for audio, text in clips:
            parts += [audio, gap]
            texts.append(text)
            total += len(audio) + len(gap)
    return np.concatenate(parts), " ".join(texts)


def time_it(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="audio length (180)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-float32", action="store_true", help="skip the float32 row")
    args = parser.parse_args(argv)
    speech = shared_data("speech")
    if speech is None:
        print("skipped: ../shared/data/speech not found (set MMFUSE_DATA)")
        return 0
    import torch
    import whisper

    from mmfuse.encoders.base import create_encoder

    audio, reference = long_audio(speech, args.seconds)
    duration = len(audio) / SAMPLE_RATE
    print(f"{duration:.0f} s of speech ({len(reference.split())} words), load average {load()}")
    ours = create_encoder("faster-whisper:base", args.device)
    theirs = create_encoder("openai-whisper:base", args.device)._model
    ours.transcribe(audio[: 5 * SAMPLE_RATE])  # warm-up
    rows = []
    seconds, transcript = time_it(lambda: ours.transcribe(audio, language=None))
    rows.append(("mmfuse transcribe (faster-whisper:base)", seconds, transcript.text))
    if not args.no_float32:  # the same decoding before int8 became the CPU default
        import mmfuse.encoders.speech as speech
        from mmfuse.registry import resolve

        speech.CPU_COMPUTE_TYPE = "float32"
        float32 = speech.FasterWhisperEncoder(resolve("faster-whisper:base"), args.device)
        seconds, transcript = time_it(lambda: float32.transcribe(audio))
        rows.append(("  the same in float32 (before)", seconds, transcript.text))
        del float32
    torch.manual_seed(0)
    seconds, result = time_it(
        lambda: whisper.transcribe(
            theirs, audio, beam_size=5, best_of=5, fp16=args.device != "cpu", verbose=None
        )
    )
    rows.append(("openai-whisper, same weights", seconds, result["text"]))
    for name, seconds, text in rows:
        print(
            f"{name:40} {seconds:6.1f} s  real-time factor {seconds / duration:.3f}  "
            f"WER {100 * wer(reference, text):.1f} %"
        )
    ratio = rows[-1][1] / rows[0][1]
    equal = wer(reference, rows[0][2]) <= wer(reference, rows[-1][2])
    verdict = "meets" if ratio >= TARGET and equal else "misses"
    print(
        f"speed-up {ratio:.2f}x, WER {'not above' if equal else 'above'} the alternative's "
        f"({verdict} the {TARGET:.0f}x target at equal or lower WER)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
