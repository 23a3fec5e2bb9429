"""Speech encoders: CTranslate2 -> openai-whisper conversion, the SpeechEncoder contract on tiny
random-weight models of both backends, and transcripts of the real default models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.tiny_models import tiny_whisper

from benchmarks.common import word_errors, words
from mmfuse.cache import file_sha256
from mmfuse.encoders.base import create_encoder
from mmfuse.encoders.speech import SAMPLE_RATE, STATES_PER_SECOND, WINDOW_SAMPLES
from mmfuse.errors import ModelUnavailable
from mmfuse.registry import resolve
from mmfuse.types import Segment, Transcript
from mmfuse.whisper_convert import (
    CHECKPOINT_NAME,
    convert_ctranslate2_to_openai,
    read_ctranslate2_model,
)

BACKENDS = ("faster-whisper", "openai-whisper")
# HF Whisper parameter names -> openai-whisper names (transformers' convert_openai_to_hf table,
# reversed); applied in order, so layer-norm names go before the attention names they contain.
HF_TO_OPENAI = (
    (r"^model\.", ""),
    (r"^encoder\.embed_positions\.weight$", "encoder.positional_embedding"),
    (r"^decoder\.embed_positions\.weight$", "decoder.positional_embedding"),
    (r"^decoder\.embed_tokens\.", "decoder.token_embedding."),
    (r"^encoder\.layer_norm\.", "encoder.ln_post."),
    (r"^decoder\.layer_norm\.", "decoder.ln."),
    (r"\.layers\.", ".blocks."),
    (r"\.self_attn_layer_norm\.", ".attn_ln."),
    (r"\.encoder_attn_layer_norm\.", ".cross_attn_ln."),
    (r"\.final_layer_norm\.", ".mlp_ln."),
    (r"\.self_attn\.", ".attn."),
    (r"\.encoder_attn\.", ".cross_attn."),
    (r"\.q_proj\.", ".query."),
    (r"\.k_proj\.", ".key."),
    (r"\.v_proj\.", ".value."),
    (r"\.out_proj\.", ".out."),
    (r"\.fc1\.", ".mlp.0."),
    (r"\.fc2\.", ".mlp.2."),
)


@pytest.fixture(scope="module")
def isolated_module_cache(tmp_path_factory):
    """The session's isolated cache, set for module-scoped fixtures too (conftest's is per test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMFUSE_CACHE", str(tmp_path_factory.getbasetemp() / "mmfuse-cache"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, isolated_module_cache) -> Path:
    """The CTranslate2 folder of the tiny random-weight Whisper."""
    return tiny_whisper(tmp_path_factory) / "ct2"


@pytest.fixture(scope="module")
def tiny_hf(tiny):
    """The transformers model the tiny weights were drawn in."""
    import transformers

    folder = tiny.parent / "hf"
    return transformers.WhisperForConditionalGeneration.from_pretrained(folder).eval()


@pytest.fixture(scope="module")
def tiny_openai(tiny) -> Path:
    return convert_ctranslate2_to_openai(tiny, "tiny-random")


@pytest.fixture(scope="module")
def encoders(tiny, tiny_openai, one_torch_thread) -> dict:
    import mmfuse.encoders.speech as speech

    with pytest.MonkeyPatch.context() as patch:
        # Both backends in float32, so that they agree to the token (int8 is CPU's default);
        # created here, not taken from create_encoder's per-process instances.
        patch.setattr(speech, "CPU_COMPUTE_TYPE", "float32")
        return {
            "faster-whisper": speech.FasterWhisperEncoder(resolve(f"faster-whisper:{tiny}"), "cpu"),
            "openai-whisper": create_encoder(f"openai-whisper:{tiny_openai}", "cpu"),
        }


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(seconds * SAMPLE_RATE))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def tiny_transcripts(encoders) -> dict:
    """Each backend's transcript of 2 s of noise, without VAD (random weights emit tokens)."""
    import mmfuse.encoders.speech as speech

    with pytest.MonkeyPatch.context() as patch:
        # Random weights fail every fallback check; one temperature keeps the test fast.
        patch.setattr(speech, "TEMPERATURES", (0.0,))
        return {name: enc.transcribe(noise(2.0), vad=False) for name, enc in encoders.items()}


# ---------------------------------------------------------------- conversion


def test_conversion_round_trips_known_weights(tiny_hf, tiny_openai):
    import torch

    checkpoint = torch.load(tiny_openai / CHECKPOINT_NAME, weights_only=True)
    state = checkpoint["model_state_dict"]
    expected = {}
    for name, tensor in tiny_hf.state_dict().items():
        if name == "proj_out.weight":  # tied to the token embedding in both formats
            continue
        for pattern, replacement in HF_TO_OPENAI:
            name = re.sub(pattern, replacement, name)
        expected[name] = tensor
    assert set(state) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(state[name], tensor), name
    assert checkpoint["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 16,
        "n_audio_head": 2,
        "n_audio_layer": 1,
        "n_vocab": 51865,
        "n_text_ctx": 448,
        "n_text_state": 16,
        "n_text_head": 2,
        "n_text_layer": 1,
    }


def test_converted_model_computes_what_the_source_model_computes(tiny_hf, tiny_openai):
    import torch

    from mmfuse.whisper_convert import load_openai_checkpoint

    model = load_openai_checkpoint(tiny_openai / CHECKPOINT_NAME, "cpu")
    mel = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(1))
    tokens = torch.tensor([[50258, 50259, 50359, 50364, 440, 1029]])  # sot, en, transcribe, ...
    with torch.inference_mode():
        expected_states = tiny_hf.model.encoder(mel).last_hidden_state
        expected_logits = tiny_hf(input_features=mel, decoder_input_ids=tokens).logits
        torch.testing.assert_close(model.embed_audio(mel), expected_states, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(model(mel, tokens), expected_logits, atol=1e-4, rtol=1e-4)


def test_conversion_is_built_once_and_keyed_by_the_source_weights(tiny, tiny_openai):
    checkpoint = tiny_openai / CHECKPOINT_NAME
    written = checkpoint.stat().st_mtime_ns
    assert convert_ctranslate2_to_openai(tiny, "tiny-random") == tiny_openai
    assert checkpoint.stat().st_mtime_ns == written
    assert file_sha256(tiny / "model.bin")[:12] in tiny_openai.name
    assert not [p for p in tiny_openai.parent.iterdir() if p.name.startswith(".")]  # no staging


def test_reader_rejects_a_file_that_is_not_a_ctranslate2_model(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"\x02\x00\x00\x00" + b"not a model" * 10)
    with pytest.raises(ValueError, match="binary version 2"):
        read_ctranslate2_model(bogus)


# ---------------------------------------------------------------- encoder contract


@pytest.mark.parametrize("backend", BACKENDS)
def test_embed_returns_one_unit_vector_per_segment(encoders, backend):
    encoder = encoders[backend]
    segments = [Segment(0.0, 1.5, "a", -0.1, 0.0), Segment(31.0, 31.0, "b", -0.1, 0.0)]
    vectors = encoder.embed(noise(40.0), segments)
    assert vectors.shape == (2, 16) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert encoder.embed(noise(1.0), []).shape == (0, 16)


def test_embed_averages_the_encoder_states_over_each_span(encoders):
    encoder = encoders["faster-whisper"]
    audio = noise(65.0)  # three windows
    segments = [Segment(1.0, 2.0, "a", 0.0, 0.0), Segment(61.0, 62.5, "b", 0.0, 0.0)]
    first = encoder._encode(encoder._mel(audio[:WINDOW_SAMPLES]))
    third = encoder._encode(encoder._mel(np.pad(audio[2 * WINDOW_SAMPLES :], (0, 25 * 16000))))
    rate = STATES_PER_SECOND  # the third window starts at 60 s
    expected = np.stack([first[rate : 2 * rate].mean(0), third[rate : int(2.5 * rate)].mean(0)])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(encoder.embed(audio, segments), expected, atol=1e-5)


def test_backends_agree_given_the_same_weights(encoders, tiny_transcripts):
    segments = [Segment(0.2, 1.2, "a", 0.0, 0.0)]
    audio = noise(3.0, seed=5)
    np.testing.assert_allclose(
        encoders["faster-whisper"].embed(audio, segments),
        encoders["openai-whisper"].embed(audio, segments),
        atol=1e-4,
    )
    assert tiny_transcripts["faster-whisper"].text == tiny_transcripts["openai-whisper"].text


@pytest.mark.parametrize("backend", BACKENDS)
def test_transcribe_returns_timed_segments(encoders, tiny_transcripts, backend):
    transcript = tiny_transcripts[backend]
    assert isinstance(transcript, Transcript)
    assert transcript.duration == pytest.approx(2.0)
    assert transcript.language in encoders[backend].languages
    assert 0.0 <= transcript.language_prob <= 1.0
    assert transcript.segments, "random weights still emit some tokens"
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= transcript.duration  # clipped to the audio
        assert segment.text == segment.text.strip() and segment.text
    assert Transcript.from_dict(json.loads(json.dumps(transcript.to_dict()))) == transcript


@pytest.mark.parametrize("backend", BACKENDS)
def test_silence_gives_a_transcript_without_segments(encoders, backend):
    transcript = encoders[backend].transcribe(np.zeros(3 * SAMPLE_RATE, dtype=np.float32))
    assert transcript.segments == [] and transcript.text == ""
    assert transcript.duration == pytest.approx(3.0)
    assert transcript.language == ""  # nothing to detect it from


def test_bad_arguments_are_one_line_errors(encoders):
    encoder = encoders["faster-whisper"]
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        encoder.transcribe(noise(1.0), language="xx")
    with pytest.raises(ValueError, match="mono"):
        encoder.transcribe(np.zeros((2, 100), dtype=np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_settings_name_the_model_weights_and_decoding(encoders, backend, tiny):
    settings = encoders[backend].settings()
    assert settings["model_id"].startswith(f"{backend}:")
    assert settings["beam_size"] == 5 and settings["temperatures"][0] == 0.0
    assert len(settings["weights_sha256"]) == 64
    json.dumps(settings)  # cache keys are JSON


def test_openai_checkpoint_file_path_loads_too(tiny_openai, one_torch_thread):
    encoder = create_encoder(f"openai-whisper:{tiny_openai / CHECKPOINT_NAME}", "cpu")
    assert encoder.dim == 16 and encoder.modality == "speech"


def test_a_broken_checkpoint_is_model_unavailable(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelUnavailable, match="cannot load openai-whisper checkpoint") as raised:
        create_encoder(f"openai-whisper:{broken}", "cpu")
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------- real models


def speech_references(shared_data: Path) -> dict[Path, str]:
    """speech/jfk and speech/deepspeech: audio file -> reference text."""
    speech = shared_data / "speech"
    ldc = (speech / "deepspeech" / "LDC93S1.txt").read_text().split(maxsplit=2)[2]
    return {
        speech / "jfk" / "jfk.flac": (speech / "jfk" / "jfk.ref.txt").read_text(),
        speech / "deepspeech" / "LDC93S1.wav": ldc,
        speech / "deepspeech" / "new-home-in-the-stars-16k.wav": (
            speech / "deepspeech" / "new-home-in-the-stars-16k.ref.txt"
        ).read_text(),
    }


@dataclass
class BaseRun:
    """Whisper base (faster-whisper) over the reference speech files."""

    encoder: Any
    audio: dict[Path, np.ndarray]
    transcripts: dict[Path, Transcript]


@pytest.fixture(scope="module")
def base_run(shared_data, isolated_module_cache) -> BaseRun:
    from mmfuse.io.audio import load_audio

    encoder = create_encoder("faster-whisper:base", "cpu")
    audio = {path: load_audio(path) for path in speech_references(shared_data)}
    transcripts = {path: encoder.transcribe(samples) for path, samples in audio.items()}
    return BaseRun(encoder, audio, transcripts)


@pytest.mark.integration
def test_base_transcribes_jfk_and_embeds_its_segments(base_run, shared_data):
    path = shared_data / "speech" / "jfk" / "jfk.flac"
    transcript = base_run.transcripts[path]
    assert "ask not what your country can do for you" in " ".join(words(transcript.text))
    assert transcript.language == "en" and transcript.duration == pytest.approx(11.0)
    vectors = base_run.encoder.embed(base_run.audio[path], transcript.segments)
    assert vectors.shape == (len(transcript.segments), 512) and vectors.dtype == np.float32


@pytest.mark.integration
def test_base_word_error_rate_is_at_most_10_percent(base_run, shared_data):
    references = speech_references(shared_data)
    errors = sum(
        word_errors(words(reference), words(base_run.transcripts[path].text))
        for path, reference in references.items()
    )
    total = sum(len(words(reference)) for reference in references.values())
    assert errors / total <= 0.10, f"WER {errors}/{total}"


@pytest.mark.integration
def test_openai_whisper_base_matches_faster_whisper_base(base_run, shared_data, one_torch_thread):
    path = shared_data / "speech" / "jfk" / "jfk.flac"
    encoder = create_encoder("openai-whisper:base", "cpu")
    transcript = encoder.transcribe(base_run.audio[path])
    assert words(transcript.text) == words(base_run.transcripts[path].text)
