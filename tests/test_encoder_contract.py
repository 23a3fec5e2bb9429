"""Contract tests over every encoder backend, on tiny random-weight models.

Whatever the backend, ``create_encoder`` gives an ``Encoder`` whose ``encode`` takes a batch of
its modality's inputs and returns one finite float32 output per input, the same on a second
call (the encoders are frozen), with its model id in ``settings()`` (the cache keys). A new
backend in ``encoders.base`` fails here until it has a tiny model below.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.media import write_video
from helpers.tiny_models import make_tiny_timm, save_tiny_clip, tiny_whisper
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse.encoders import base, image, speech
from mmfuse.encoders.base import Encoder, create_encoder
from mmfuse.encoders.video import VideoEncoder
from mmfuse.whisper_convert import convert_ctranslate2_to_openai

SAMPLE_RATE = 16_000


def _text(tmp_path_factory, monkeypatch):
    folder = save_tiny_sentence_transformer(
        tmp_path_factory.mktemp("st") / "tiny", ["a", "cat", "dog", "sat"], 16, layers=1
    )
    return f"sentence-transformers:{folder}", ["a cat sat", "a dog"]


def _timm(tmp_path_factory, monkeypatch):
    weights = tmp_path_factory.mktemp("timm") / "tiny.pth"
    torch.save(make_tiny_timm().state_dict(), weights)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 40, 30, 3), dtype=np.uint8)
    return f"timm:test_efficientnet@{weights}", list(pixels)


def _open_clip(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(image, "CLIP_IMAGENET_TEMPLATES", ("a photo of a {}.",))
    config, weights = save_tiny_clip(tmp_path_factory.mktemp("clip"))
    pixels = np.random.default_rng(1).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    return f"open_clip:{config}@{weights}", list(pixels)


def _noise(seconds: float, seed: int) -> np.ndarray:
    samples = np.random.default_rng(seed).standard_normal(round(seconds * SAMPLE_RATE))
    return (0.1 * samples).astype(np.float32)


def _faster_whisper(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(speech, "TEMPERATURES", (0.0,))  # random weights fail every fallback
    folder = tiny_whisper(tmp_path_factory) / "ct2"
    return f"faster-whisper:{folder}", [_noise(1.0, 0), _noise(1.5, 1)]


def _openai_whisper(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(speech, "TEMPERATURES", (0.0,))
    folder = convert_ctranslate2_to_openai(tiny_whisper(tmp_path_factory) / "ct2", "tiny-random")
    return f"openai-whisper:{folder}", [_noise(1.0, 0), _noise(1.5, 1)]


# backend -> builder of (model id of a tiny model, a batch of two inputs)
TINY = {
    "sentence-transformers": _text,
    "timm": _timm,
    "open_clip": _open_clip,
    "faster-whisper": _faster_whisper,
    "openai-whisper": _openai_whisper,
}


def _arrays(output) -> list[np.ndarray]:
    """Every array of an encoder's output for a batch (a whole array, or fields of each)."""
    if isinstance(output, np.ndarray):
        return [output]
    items = output if isinstance(output, list) else [output]
    found = []
    for item in items:
        fields = vars(item).values() if hasattr(item, "__dict__") else ()
        found += [v for v in fields if isinstance(v, np.ndarray)]
    return found


@pytest.mark.parametrize("backend", sorted(base._BACKEND_MODULES))
def test_every_backend_keeps_the_encoder_contract(
    backend, tmp_path_factory, monkeypatch, one_torch_thread
):
    assert backend in TINY, f"no tiny model for backend {backend}"
    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path_factory.mktemp("cache")))  # own derived files
    model_id, inputs = TINY[backend](tmp_path_factory, monkeypatch)
    encoder = create_encoder(model_id, "cpu")
    assert isinstance(encoder, Encoder) and encoder.device == "cpu"
    assert encoder.settings()["model_id"] == encoder.model_id and encoder.dim > 0
    first, second = encoder.encode(inputs), encoder.encode(inputs)
    if isinstance(first, list):
        assert len(first) == len(inputs)
    arrays = _arrays(first)
    assert arrays, "encode returned no arrays"
    for array, again in zip(arrays, _arrays(second), strict=True):
        assert array.dtype == np.float32 and np.isfinite(array).all()
        np.testing.assert_array_equal(array, again)


def test_the_video_encoder_is_an_encoder_of_paths(tmp_path, one_torch_thread):
    weights = tmp_path / "tiny.pth"
    torch.save(make_tiny_timm().state_dict(), weights)
    images = create_encoder(f"timm:test_efficientnet@{weights}", "cpu")
    video = VideoEncoder(images, every_s=0.25)
    assert isinstance(video, Encoder) and video.modality == "video"
    assert video.model_id == images.model_id and video.dim == images.dim
    clips = [write_video(tmp_path / "a.mp4", frames=6), write_video(tmp_path / "b.mp4", seed=1)]
    first, second = video.encode(clips)
    assert len(first.times) == len(first.frames.text_space) > 0
    assert first.frames.text_space.dtype == np.float32
    assert not np.array_equal(first.frames.probs, second.frames.probs)  # different clips


def test_the_text_encoders_layer_by_layer_pass_is_the_models_own(tmp_path, one_torch_thread):
    """The fine-tuned top layers read the encoder's states layer by layer, through a mask the
    project builds (no private helper of transformers): the states after each layer and the
    sentence vectors are the model's own forward pass, padding included, on any release."""
    from mmfuse.encoders.text import Readout

    folder = save_tiny_sentence_transformer(
        tmp_path / "tiny", ["a", "cat", "dog", "sat", "on", "mat"], 16, layers=3
    )
    encoder = create_encoder(f"sentence-transformers:{folder}", "cpu")
    texts = ["a cat sat on the mat", "a dog", "cat"]  # unequal lengths: padded batches
    sequences = [
        encoder._prefix + ids + encoder._suffix for ids in encoder._tokenize(texts)["input_ids"]
    ]
    ids, mask = encoder._batch(sequences)
    with torch.inference_mode():
        own = encoder.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    for layer in (1, 2):
        lower = encoder.lower_states(texts, layer)
        for row, states in enumerate(lower):
            expected = own.hidden_states[layer][row, : len(sequences[row])]
            torch.testing.assert_close(states.float(), expected.float(), atol=2e-3, rtol=0)
    seen = {}

    def read(states, layer_mask, keep):
        seen["states"] = states.clone()
        return keep.float().sum(1, keepdim=True)  # tokens per text

    vectors, tokens = encoder.encode_read(texts, Readout(2, 1, read))
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-5)
    assert sorted(tokens[:, 0].tolist()) == sorted(float(len(s)) for s in sequences)
    assert seen["states"].shape[-1] == 16
