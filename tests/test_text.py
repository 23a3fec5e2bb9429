"""The text encoder's contract on a tiny random-weight BERT; semantics on the real MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse.encoders.base import create_encoder
from mmfuse.encoders.text import TextEncoder, read_sentence_config, token_windows
from mmfuse.errors import ModelUnavailable
from mmfuse.registry import ModelRef

TINY_DIM = 32
TINY_MAX_LENGTH = 16  # short, so that a sentence of a dozen words needs several windows
WORDS = [
    *("the", "a", "cat", "dog", "kitten", "truck", "photo", "of", "runs", "sat", "on", "mat"),
    *("red", "blue", "big", "small", "happy", "sad", "house", "car", "tree", "sun", "moon"),
    *("day", "night", "good", "bad", "very", "is", "was", "and", "or", "but"),
]


def save_tiny(folder: Path, pooling: str = "mean_tokens") -> Path:
    """A random-weight 2-layer BERT whose short windows make long sentences span several."""
    return save_tiny_sentence_transformer(folder, WORDS, TINY_DIM, 2, TINY_MAX_LENGTH, pooling)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny") / "tiny-st")


@pytest.fixture(scope="module")
def tiny(tiny_folder) -> TextEncoder:
    """float32, so that batched and one-by-one results agree to rounding."""
    return TextEncoder(
        ModelRef("sentence-transformers:tiny", "sentence-transformers", str(tiny_folder)),
        "cpu",
        precision="float32",
    )


def sentence(n_words: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, size=n_words))


def test_created_from_a_local_folder_through_the_registry(tiny_folder):
    encoder = create_encoder(f"sentence-transformers:{tiny_folder}", device="cpu")
    assert isinstance(encoder, TextEncoder)
    assert encoder.modality == "text"
    assert encoder.dim == TINY_DIM
    settings = encoder.settings()
    assert settings["model_id"] == f"sentence-transformers:{tiny_folder}"
    assert settings["max_length"] == TINY_MAX_LENGTH
    assert settings["pooling"] == "mean"
    assert settings["quantized"] is False
    assert settings["precision"] in ("float32", "bfloat16")


def test_hub_names_are_not_downloaded_offline(monkeypatch):
    monkeypatch.setenv("MMFUSE_ONLINE", "0")
    with pytest.raises(ModelUnavailable, match="--online"):
        create_encoder("sentence-transformers:someone/some-model", device="cpu")


def test_encode_returns_unit_float32_rows_and_zero_rows_for_empty_texts(tiny):
    texts = ["a cat sat on the mat", "", "   ", "big red truck", "dog"]
    vectors = tiny.encode(texts)
    assert vectors.shape == (5, TINY_DIM)
    assert vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms[[0, 3, 4]], 1.0, atol=1e-5)
    assert not vectors[[1, 2]].any()
    assert tiny.encode([]).shape == (0, TINY_DIM)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_text_gets_the_same_vector_bit_for_bit_in_any_batch(tiny_folder, precision):
    """Each text is padded to a length of its own, never to its batch's longest, so its
    batch mates never move its vector, even in bfloat16 (where padding moved it by ~1e-3)."""
    ref = ModelRef("sentence-transformers:tiny", "sentence-transformers", str(tiny_folder))
    encoder = TextEncoder(ref, "cpu", precision)
    texts = [sentence(n, seed) for seed, n in enumerate([1, 9, 3, 12, 2, 7, 5, 11, 4])]
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    np.testing.assert_array_equal(encoder.encode(texts, batch_size=3), one_by_one)
    others = [sentence(n, 100 + n) for n in (6, 10, 13)]
    mixed = encoder.encode([*others, *texts[::-1]], batch_size=4)[len(others) :][::-1]
    np.testing.assert_array_equal(mixed, one_by_one)


def test_default_precision_stays_faithful_to_float32(tiny_folder, tiny):
    ref = ModelRef("sentence-transformers:tiny", "sentence-transformers", str(tiny_folder))
    fast = TextEncoder(ref, "cpu")
    texts = [sentence(n, seed) for seed, n in enumerate([2, 5, 9, 13, 30])]
    cosines = (fast.encode(texts) * tiny.encode(texts)).sum(1)
    assert cosines.min() >= 0.99


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_int8_option_is_flagged_and_still_returns_unit_vectors(tiny_folder):
    ref = ModelRef("sentence-transformers:tiny", "sentence-transformers", str(tiny_folder))
    quantized = TextEncoder(ref, "cpu", precision="int8")
    assert quantized.settings()["quantized"] is True
    np.testing.assert_allclose(
        np.linalg.norm(quantized.encode(["a red car"]), axis=1), 1.0, atol=1e-5
    )


def test_long_text_is_the_mean_of_its_windows_not_truncated(tiny):
    long_text = sentence(40, seed=1)
    assert len(tiny._tokenize([long_text])["input_ids"][0]) > TINY_MAX_LENGTH
    ids = tiny._tokenize([long_text])["input_ids"][0]
    spans = token_windows(len(ids), tiny._content_window, tiny._long_text_stride)
    assert len(spans) > 1
    windows, _ = tiny._embed_windows([ids[s:e] for s, e in spans], batch_size=8)
    mean = windows.mean(0)
    np.testing.assert_allclose(tiny.encode([long_text])[0], mean / np.linalg.norm(mean), atol=1e-5)
    changed_ending = long_text + " sun moon sun moon"
    assert not np.allclose(tiny.encode([changed_ending]), tiny.encode([long_text]), atol=1e-3)


def test_token_windows_cover_every_token_once_without_stride():
    assert token_windows(0, 5, 0) == []
    assert token_windows(12, 5, 0) == [(0, 5), (5, 10), (10, 12)]
    assert token_windows(12, 5, 2) == [(0, 5), (3, 8), (6, 11), (9, 12)]
    with pytest.raises(ValueError):
        token_windows(10, 4, 4)


def test_cls_pooling_and_unsupported_pooling_from_the_folder(tmp_path):
    folder = save_tiny(tmp_path / "cls", pooling="cls_token")
    assert read_sentence_config(folder).pooling == "cls"
    encoder = TextEncoder(
        ModelRef("x:cls", "sentence-transformers", str(folder)), "cpu", precision="float32"
    )
    the = encoder._tokenize(["the"])["input_ids"][0]
    first_state = encoder._forward([encoder._prefix + the + encoder._suffix])[0]
    expected = first_state[0, 0].numpy()
    np.testing.assert_allclose(
        encoder.encode(["the"])[0], expected / np.linalg.norm(expected), atol=1e-5
    )
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": TINY_DIM, "pooling_mode_weightedmean_tokens": True})
    )
    with pytest.raises(ModelUnavailable, match="pooling"):
        read_sentence_config(folder)


# --- the real default model -------------------------------------------------------------

MINILM = "sentence-transformers:all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return create_encoder(MINILM, device="cpu")


@pytest.mark.integration
def test_minilm_embeddings_carry_meaning(minilm):
    cat, kitten, truck = minilm.encode(["a photo of a cat", "a kitten", "a truck"])
    assert cat @ kitten > cat @ truck + 0.1
    assert minilm.dim == 384 and minilm.settings()["max_length"] == 256


@pytest.mark.integration
def test_minilm_fast_path_is_faithful_to_sentence_transformers(minilm, shared_data):
    from sentence_transformers import SentenceTransformer

    from mmfuse.registry import resolve

    lines = (shared_data / "text/tweeteval/sentiment/val_text.txt").read_text().splitlines()
    tweets = lines[:200]
    reference = SentenceTransformer(resolve(MINILM).source, device="cpu").encode(
        tweets, batch_size=64
    )
    cosines = (minilm.encode(tweets) * reference).sum(1)
    assert cosines.min() >= 0.99, f"min cosine {cosines.min():.4f} ({minilm.precision})"


@pytest.mark.integration
def test_minilm_long_document_keeps_its_end(minilm):
    intro = "The quarterly report discusses revenue, hiring and office space. " * 40
    about_cats = intro + "Finally, the cat adoption shelter needs volunteers for kittens."
    about_trucks = intro + "Finally, the truck fleet needs new tyres and diesel engines."
    a, b = minilm.encode([about_cats, about_trucks])
    assert a @ b < 0.999  # truncation at 256 tokens would make them identical
    cat = minilm.encode(["cats and kittens"])[0]
    assert cat @ a > cat @ b
