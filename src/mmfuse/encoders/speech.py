"""Speech: Whisper transcripts with segment times, and one voice embedding per segment.

Two backends behind one interface: ``faster-whisper`` (CTranslate2, the default) and
``openai-whisper`` (PyTorch, run from weights converted from the packaged CTranslate2 ones).
Both decode alike (beam search of 5 at temperature 0, falling back to sampling at rising
temperatures when a window's text is repetitive or improbable: the libraries' defaults, seeded so
a run repeats exactly) and both drop non-speech with the same Silero VAD that ships inside
faster-whisper. In float32 one audio file gives one transcript whichever backend runs it; on CPU
faster-whisper runs int8 by default (``CPU_COMPUTE_TYPE``), several times faster, with the same
word error rate on the reference speech, though a comma or a rare word may differ.

The voice embedding of a segment is the mean of the Whisper audio encoder's output states over
the segment's time span (one state per 20 ms), L2-normalised; audio longer than Whisper's 30 s
window is encoded window by window.
"""

from __future__ import annotations

import abc
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mmfuse.cache import file_sha256
from mmfuse.encoders.base import Encoder, register_backend
from mmfuse.errors import ModelUnavailable
from mmfuse.registry import ModelRef
from mmfuse.types import Segment, Transcript

log = logging.getLogger(__name__)

# Whisper's input: 16 kHz audio in fixed 30-second windows (openai/whisper audio.py).
SAMPLE_RATE = 16000
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # 480000 samples
# Mel hop of 160 samples, then the encoder's stride-2 convolution: one output state per 20 ms.
STATES_PER_SECOND = SAMPLE_RATE // (2 * 160)  # 50
STATES_PER_WINDOW = 30 * STATES_PER_SECOND  # 1500
# Segment times are kept to the millisecond (Whisper's timestamp tokens step by 20 ms).
TIME_DECIMALS = 3
# Decoding, as faster-whisper's and openai-whisper's transcribe() defaults.
BEAM_SIZE = 5
# Transcription with word times (interviews): each 30-s window decoded without the previous
# window's text as its prompt. Conditioned on it, Whisper looped on a synthetic interview's
# closing silence ("I would add a data pipeline." five times, 113 words for 62 spoken, 311
# words a minute); unconditioned, the transcript is what was said. The price: the initial
# prompt (the fillers' one) reaches the first window only.
WORD_OPTIONS = {"word_timestamps": True, "condition_on_previous_text": False}
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# Seeds the sampled fallback temperatures, so that transcripts repeat run to run.
SAMPLING_SEED = 0
# Threads CTranslate2 uses on CPU (faster-whisper's own default is 4, too many on small hosts).
CPU_THREADS = min(4, os.cpu_count() or 1)
# CTranslate2's weight type on CPU: int8 matrix products (VNNI/AVX-512 where present) transcribe
# 3-7x faster than float32 with the same word error rate on the reference speech
# (BENCHMARKS.md, speech); GPUs keep CTranslate2's default (float16).
CPU_COMPUTE_TYPE = "int8"


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span (Whisper's cross-attention alignment).

    Attributes:
        start, end: seconds from the start of the audio.
        text: the word as decoded, stripped (punctuation attached: "well,").
        probability: the decoder's probability of the word's tokens.
    """

    start: float
    end: float
    text: str
    probability: float


def _waveform(audio: np.ndarray) -> np.ndarray:
    """Checks the audio contract: float32 [n_samples] mono at 16 kHz."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono [n_samples], got shape {audio.shape}")
    return audio


def _window(audio: np.ndarray, index: int) -> np.ndarray:
    """Window ``index`` of the audio, zero-padded to 30 s: float32 [480000]."""
    chunk = audio[index * WINDOW_SAMPLES : (index + 1) * WINDOW_SAMPLES]
    return np.pad(chunk, (0, WINDOW_SAMPLES - len(chunk)))


def _state_spans(segments: list[Segment], n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's encoder-state index range [lo, hi), at least one state, within the audio."""
    n_states = max(1, math.ceil(n_samples * STATES_PER_SECOND / SAMPLE_RATE))
    # Rounded first so that times like 0.1 s (5.000000000000001 states) land on their state.
    lo = np.floor(np.round([s.start * STATES_PER_SECOND for s in segments], 6)).astype(np.int64)
    hi = np.ceil(np.round([s.end * STATES_PER_SECOND for s in segments], 6)).astype(np.int64)
    lo = np.clip(lo, 0, n_states - 1)
    hi = np.clip(np.maximum(hi, lo + 1), 1, n_states)
    return lo, hi


@dataclass(frozen=True)
class SpeechFeatures:
    """What the speech encoder makes of one audio track.

    Attributes:
        transcript: the words with their segment times.
        voice: float32 [S, d] voice embedding of each transcript segment.
    """

    transcript: Transcript
    voice: np.ndarray


class SpeechEncoder(Encoder):
    """Whisper: speech to ``Transcript`` and per-segment voice embeddings.

    Subclasses supply the backend: ``_mel`` (audio window to log-mel features), ``_encode``
    (features to encoder states) and ``_decode`` (audio to segments and language).

    Attributes:
        languages: the language codes the model accepts (("en",) for English-only models).
        weights_sha256: SHA-256 of the weight file (or the hub name when downloaded).
    """

    modality = "speech"

    def __init__(self, model_id: str, dim: int, device: str, languages, weights_sha256: str):
        super().__init__(model_id, dim, device)
        self.languages = tuple(languages)
        self.weights_sha256 = weights_sha256

    def settings(self) -> dict:
        """Model, weights and decoding options; ``language`` and ``vad`` are per call."""
        return {
            **super().settings(),
            "weights_sha256": self.weights_sha256,
            "beam_size": BEAM_SIZE,
            "temperatures": list(TEMPERATURES),
            "sampling_seed": SAMPLING_SEED,
            "word_options": WORD_OPTIONS,
            "vad": "silero (faster-whisper VadOptions defaults)",
            "embedding": "encoder states mean-pooled per segment, L2-normalised",
        }

    def check_language(self, language: str | None) -> None:
        """Raises ValueError (one line) unless ``language`` is None or a code the model knows."""
        if language is None or language in self.languages:
            return
        if self.languages == ("en",):
            raise ValueError(f"{self.model_id} is English-only; it cannot transcribe '{language}'")
        raise ValueError(
            f"unknown language code '{language}' for {self.model_id} "
            f"(e.g. {', '.join(self.languages[:6])})"
        )

    def encode(
        self, inputs: Sequence[np.ndarray], *, language: str | None = None
    ) -> list[SpeechFeatures]:
        """Transcribes each float32 [n] 16 kHz mono track and embeds its segments' voice."""
        features = []
        for audio in inputs:
            transcript = self.transcribe(audio, language=language)
            features.append(SpeechFeatures(transcript, self.embed(audio, transcript.segments)))
        return features

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, vad: bool = True
    ) -> Transcript:
        """Transcribes speech.

        Args:
            audio: float32 [n_samples] mono at 16 kHz, in [-1, 1].
            language: language code; None detects it from the first 30 s of speech.
            vad: drop non-speech first (Silero VAD); segment times stay those of ``audio``.

        Returns:
            The transcript; no segments when nothing was said (silence, noise).

        Raises:
            ValueError: bad audio shape or a language the model does not know.
        """
        from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps

        self.check_language(language)
        audio = _waveform(audio)
        duration = len(audio) / SAMPLE_RATE
        chunks = get_speech_timestamps(audio, VadOptions()) if vad and len(audio) else None
        if not len(audio) or (vad and not chunks):
            known = language or ("en" if self.languages == ("en",) else "")
            return Transcript(known, 1.0 if known else 0.0, duration, [])
        speech = np.concatenate([audio[c["start"] : c["end"]] for c in chunks]) if vad else audio
        segments, language, language_prob = self._decode(speech, language)
        if vad:
            timeline = SpeechTimestampsMap(chunks, SAMPLE_RATE)
            segments = [
                replace(
                    s,
                    start=timeline.get_original_time(s.start),
                    end=timeline.get_original_time(s.end, is_end=True),
                )
                for s in segments
            ]
        # Whisper's last timestamp token may lie past the end of a short clip: clip to it.
        segments = [
            replace(
                s,
                start=round(min(s.start, duration), TIME_DECIMALS),
                end=round(min(s.end, duration), TIME_DECIMALS),
            )
            for s in segments
        ]
        return Transcript(language, float(language_prob), duration, segments)

    def transcribe_words(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None
    ) -> tuple[list[Segment], list[Word]]:
        """Transcribes speech with word times, on the audio's own timeline (no VAD cut).

        Args:
            audio: float32 [n_samples] mono at 16 kHz.
            language: language code; None detects it.
            prompt: text the decoder takes as preceding speech (Whisper's ``initial_prompt``):
                a prompt with "um" and "uh" keeps such fillers in the transcript, which
                Whisper otherwise drops.

        Returns:
            The segments and their words, in time order (none for silence).
        """
        self.check_language(language)
        audio = _waveform(audio)
        if not len(audio):
            return [], []
        return self._decode_words(audio, language, prompt)

    def _decode_words(self, audio, language, prompt) -> tuple[list[Segment], list[Word]]:
        raise ModelUnavailable(f"{self.model_id}: this backend gives no word timings")

    def embed(self, audio: np.ndarray, segments: list[Segment]) -> np.ndarray:
        """One voice embedding per segment: the encoder states over its span, averaged.

        Args:
            audio: float32 [n_samples] mono at 16 kHz, the audio the segments' times refer to.
            segments: the spans to embed (a transcript's segments, or any others).

        Returns:
            float32 [n_segments, dim], L2-normalised rows; [0, dim] for no segments.
        """
        audio = _waveform(audio)
        if not segments:
            return np.zeros((0, self.dim), dtype=np.float32)
        lo, hi = _state_spans(segments, len(audio))
        sums = np.zeros((len(segments), self.dim), dtype=np.float64)
        n_windows = max(1, math.ceil(len(audio) / WINDOW_SAMPLES))
        for index in range(n_windows):
            first = index * STATES_PER_WINDOW
            inside = np.flatnonzero((lo < first + STATES_PER_WINDOW) & (hi > first))
            if not len(inside):
                continue
            states = self._encode(self._mel(_window(audio, index)))  # [1500, dim]
            for i in inside:
                a, b = max(lo[i], first) - first, min(hi[i], first + STATES_PER_WINDOW) - first
                sums[i] += states[a:b].sum(axis=0, dtype=np.float64)
        means = sums / (hi - lo)[:, None]
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        return (means / np.maximum(norms, 1e-12)).astype(np.float32)

    @abc.abstractmethod
    def _mel(self, window: np.ndarray) -> np.ndarray:
        """float32 [480000] audio window -> float32 [n_mels, 3000] log-mel features."""

    @abc.abstractmethod
    def _encode(self, mel: np.ndarray) -> np.ndarray:
        """float32 [n_mels, 3000] features -> float32 [1500, dim] encoder output states."""

    @abc.abstractmethod
    def _decode(self, audio: np.ndarray, language: str | None) -> tuple[list[Segment], str, float]:
        """Beam-search decoding of float32 [n_samples] speech: segments, language, its prob."""


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _local_weights(source: str, weight_name: str) -> Path | None:
    """The weight file behind a resolved source: a folder holding it, or the file itself."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path / weight_name
    return path if path.is_file() else None


def _ctranslate2_whisper(model_class, weights: Path, device: str):
    """faster-whisper's model of ``weights`` on ``device`` and its compute type, checked by one
    encoder pass: CTranslate2 loads CUDA's cuBLAS (version 12) only at its first product."""
    kind, _, index = device.partition(":")
    compute_type = CPU_COMPUTE_TYPE if kind == "cpu" else "default"
    model = model_class(
        str(weights.parent),
        device=kind,
        device_index=int(index or 0),
        compute_type=compute_type,
        cpu_threads=CPU_THREADS,
    )
    if kind != "cpu":
        import ctranslate2

        silence = model.feature_extractor(np.zeros(WINDOW_SAMPLES, np.float32), padding=0)
        model.model.encode(ctranslate2.StorageView.from_array(silence[None]), to_cpu=True)
    return model, compute_type


@register_backend("faster-whisper")
class FasterWhisperEncoder(SpeechEncoder):
    """Whisper run by CTranslate2 from a converted model folder (faster-whisper's format)."""

    def __init__(self, ref: ModelRef, device: str):
        from faster_whisper import WhisperModel
        from faster_whisper.utils import download_model

        from mmfuse.whisper_convert import read_ctranslate2_model

        weights = _local_weights(ref.source, "model.bin")
        if weights is None:  # a hub name: resolve() only lets one through when online
            weights = Path(download_model(ref.source)) / "model.bin"
        if not weights.is_file():
            raise ModelUnavailable(f"{ref.id}: no CTranslate2 model.bin in {weights.parent}")
        try:
            _, variables = read_ctranslate2_model(weights)
            dim = int(variables["encoder/conv1/bias"].shape[0])
        except (ValueError, KeyError) as error:
            raise ModelUnavailable(
                f"{ref.id}: not a CTranslate2 Whisper model ({error})"
            ) from error
        try:
            self._model, self.compute_type = _ctranslate2_whisper(WhisperModel, weights, device)
        except (RuntimeError, ValueError) as error:  # e.g. no CUDA 12 cuBLAS for CTranslate2
            if device == "cpu":
                raise ModelUnavailable(f"{ref.id}: cannot load: {_first_line(error)}") from error
            log.warning(
                "%s: CTranslate2 cannot run on %s (%s); speech runs on the CPU",
                ref.id,
                device,
                _first_line(error),
            )
            device = "cpu"
            self._model, self.compute_type = _ctranslate2_whisper(WhisperModel, weights, device)
        super().__init__(ref.id, dim, device, self._model.supported_languages, file_sha256(weights))

    def settings(self) -> dict:
        """As ``SpeechEncoder.settings``, with CTranslate2's compute type."""
        return {**super().settings(), "compute_type": self.compute_type}

    def _mel(self, window: np.ndarray) -> np.ndarray:
        return self._model.feature_extractor(window, padding=0)

    def _encode(self, mel: np.ndarray) -> np.ndarray:
        import ctranslate2

        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None]))
        states = self._model.model.encode(features, to_cpu=True)  # [1, 1500, dim]
        return np.asarray(states, dtype=np.float32)[0]

    def _transcribe(self, audio, language, **options):
        """faster-whisper's transcribe with the shared decoding options, seeded."""
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        return self._model.transcribe(
            audio,
            language=language,
            beam_size=BEAM_SIZE,
            best_of=BEAM_SIZE,
            temperature=list(TEMPERATURES),
            vad_filter=False,
            **options,
        )

    def _decode(self, audio, language):
        pieces, info = self._transcribe(audio, language)
        segments = [
            Segment(s.start, s.end, s.text.strip(), s.avg_logprob, s.no_speech_prob)
            for s in pieces
            if s.text.strip()
        ]
        return segments, info.language, info.language_probability

    def _decode_words(self, audio, language, prompt):
        pieces, _ = self._transcribe(audio, language, **WORD_OPTIONS, initial_prompt=prompt)
        segments, words = [], []
        for s in pieces:
            if not s.text.strip():
                continue
            segments.append(
                Segment(s.start, s.end, s.text.strip(), s.avg_logprob, s.no_speech_prob)
            )
            words.extend(
                Word(round(w.start, TIME_DECIMALS), round(w.end, TIME_DECIMALS), w.word.strip(),
                     w.probability)
                for w in s.words or []
                if w.word.strip()
            )  # fmt: skip
        return segments, words


@register_backend("openai-whisper")
class OpenAIWhisperEncoder(SpeechEncoder):
    """Whisper run by openai-whisper (PyTorch) from a checkpoint file or converted folder."""

    def __init__(self, ref: ModelRef, device: str):
        import whisper
        from whisper.tokenizer import LANGUAGES

        from mmfuse.whisper_convert import CHECKPOINT_NAME, load_openai_checkpoint

        weights = _local_weights(ref.source, CHECKPOINT_NAME)
        if weights is None:  # a hub name: resolve() only lets one through when online
            self._model = whisper.load_model(ref.source, device=device).eval()
            weights_sha256 = ref.source
        else:
            self._model = load_openai_checkpoint(weights, device)
            weights_sha256 = file_sha256(weights)
        dims = self._model.dims
        codes = list(LANGUAGES)[: self._model.num_languages]
        languages = codes if self._model.is_multilingual else ["en"]
        super().__init__(ref.id, dims.n_audio_state, device, languages, weights_sha256)

    def _mel(self, window: np.ndarray) -> np.ndarray:
        import torch
        from whisper.audio import log_mel_spectrogram

        mel = log_mel_spectrogram(torch.from_numpy(window), self._model.dims.n_mels)
        return mel.numpy()

    def _encode(self, mel: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            features = torch.from_numpy(mel)[None].to(self._model.device)
            states = self._model.embed_audio(features)  # [1, 1500, dim]
        return states[0].float().cpu().numpy()

    def _detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """Language of the first 30 s, as faster-whisper detects it (one window)."""
        import torch

        if not self._model.is_multilingual:
            return "en", 1.0
        mel = torch.from_numpy(self._mel(_window(audio, 0))).to(self._model.device)
        with torch.inference_mode():
            _, probs = self._model.detect_language(mel)
        language = max(probs, key=probs.get)
        return language, float(probs[language])

    def _transcribe(self, audio, language: str, **options) -> dict:
        """openai-whisper's transcribe with the shared decoding options, seeded."""
        import torch
        import whisper

        with torch.random.fork_rng():
            torch.manual_seed(SAMPLING_SEED)
            return whisper.transcribe(
                self._model,
                audio,
                language=language,
                beam_size=BEAM_SIZE,
                best_of=BEAM_SIZE,
                temperature=TEMPERATURES,
                fp16=self._model.device.type == "cuda",
                verbose=None,
                **options,
            )

    def _decode(self, audio, language):
        language, language_prob = (language, 1.0) if language else self._detect_language(audio)
        result = self._transcribe(audio, language)
        segments = [
            Segment(s["start"], s["end"], s["text"].strip(), s["avg_logprob"], s["no_speech_prob"])
            for s in result["segments"]
            if s["text"].strip()
        ]
        return segments, language, language_prob

    def _decode_words(self, audio, language, prompt):
        language = language or self._detect_language(audio)[0]
        result = self._transcribe(audio, language, **WORD_OPTIONS, initial_prompt=prompt)
        segments, words = [], []
        for s in result["segments"]:
            if not s["text"].strip():
                continue
            segments.append(
                Segment(
                    s["start"], s["end"], s["text"].strip(), s["avg_logprob"], s["no_speech_prob"]
                )
            )
            words.extend(
                Word(round(w["start"], TIME_DECIMALS), round(w["end"], TIME_DECIMALS),
                     w["word"].strip(), w["probability"])
                for w in s.get("words", [])
                if w["word"].strip()
            )  # fmt: skip
        return segments, words
