"""Images: decoding every kind of file, the image encoders' contract, zero-shot quality."""

from __future__ import annotations

import functools
import hashlib
import json
import re

import numpy as np
import pytest
import timm
import torch
from helpers.media import truncate, write_bomb_png, write_image, write_sliver_jpeg
from helpers.tiny_models import TINY_CLIP_CONFIG, make_tiny_timm, save_tiny_clip
from PIL import Image

from mmfuse.encoders import conse
from mmfuse.encoders import image as image_encoders
from mmfuse.encoders.base import create_encoder
from mmfuse.encoders.image import ImageFeatures, TimmImageEncoder, load_weights
from mmfuse.errors import InputError, ModelUnavailable
from mmfuse.io import image as image_io
from mmfuse.io.image import load_image

FAKE_DIM = 32


@functools.cache
def word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
    return np.random.default_rng(seed).standard_normal(FAKE_DIM).astype(np.float32)


class FakeText:
    """A bag-of-words text encoder: texts sharing words get similar unit vectors."""

    def __init__(self, model_id: str = "fake:bag-of-words"):
        self.model_id = model_id
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), FAKE_DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i] += word_vector(word)
        out += 1e-6
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def one_line_error(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


# --- decoding ---------------------------------------------------------------------------------


def test_png_round_trip_is_exact(tmp_path):
    pixels = rgb(30, 40)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)
    np.testing.assert_array_equal(out, pixels)


def test_greyscale_and_16_bit_become_three_equal_channels(tmp_path):
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    for name in ("grey.png", "grey16.png"):
        out = load_image(tmp_path / name)
        assert out.shape == (16, 16, 3)
        for channel in range(3):
            np.testing.assert_array_equal(out[:, :, channel], grey)


def test_cmyk_jpeg_gives_the_right_colour(tmp_path):
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(tmp_path / "red.jpg", quality=95)
    red = load_image(tmp_path / "red.jpg").reshape(-1, 3).mean(axis=0)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_palette_and_alpha_are_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[:, :4] = (0, 0, 255, 255)  # left half opaque blue, right half transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    indices = np.zeros((8, 8), dtype=np.uint8)
    indices[:, 4:] = 1  # palette entry 1 (black) is the transparent one
    palette = Image.fromarray(indices, mode="P")
    palette.putpalette([0, 0, 255, 0, 0, 0])
    palette.save(tmp_path / "palette.gif", transparency=1)
    for name in ("alpha.png", "palette.gif"):
        out = load_image(tmp_path / name)
        assert out.shape == (8, 8, 3)
        assert tuple(out[0, 0]) == (0, 0, 255) and tuple(out[0, 7]) == (255, 255, 255)


def test_exif_rotated_photo_comes_out_as_displayed(tmp_path):
    stored = np.zeros((20, 40, 3), dtype=np.uint8)  # stored landscape, red on the left
    stored[:, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "phone.jpg")
    assert out.shape == (40, 20, 3)  # displayed portrait
    assert out[:10, :, 0].mean() > 200 and out[-10:, :, 0].mean() < 60  # red now on top


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, not a picture"), "not an image"),
        (lambda p: truncate(write_image(p, size=(64, 64), fmt="JPEG")), "truncated"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "cannot"),
        (lambda p: write_bomb_png(p), "too large"),
        (lambda p: write_bomb_png(p, side=10_000), "too large"),  # Pillow only warns here
        (lambda p: write_sliver_jpeg(p), "too elongated (60000x3 pixels, sides over 100:1)"),
        (lambda p: write_sliver_jpeg(p, size=(3, 60_000)), "too elongated (3x60000"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: None, "cannot read"),  # missing
    ],
    ids=[
        *("empty", "text", "truncated", "corrupt", "bomb", "bomb-warning"),
        *("sliver", "sliver-upright", "folder", "missing"),
    ],
)
def test_bad_files_give_one_line_input_errors(tmp_path, recwarn, make, expected):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(InputError) as error:
        load_image(path)
    assert expected in one_line_error(error)
    assert path.name in str(error.value)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_pixel_limit_is_the_documented_constant(tmp_path, monkeypatch):
    write_image(tmp_path / "a.png", size=(20, 20))
    monkeypatch.setattr(image_io, "MAX_PIXELS", 399)
    with pytest.raises(InputError, match="too large"):
        load_image(tmp_path / "a.png")


def test_aspect_limit_is_the_documented_constant_and_panoramas_pass(tmp_path, monkeypatch):
    panorama = write_sliver_jpeg(tmp_path / "panorama.jpg", size=(1200, 120))  # 10:1
    assert load_image(panorama, min_side=720).shape == (120, 1200, 3)
    monkeypatch.setattr(image_io, "MAX_ASPECT", 9)
    with pytest.raises(InputError, match=r"too elongated \(1200x120 pixels, sides over 9:1\)"):
        load_image(panorama)


def test_reading_leaves_the_file_untouched(tmp_path):
    path = write_image(tmp_path / "a.jpg", size=(64, 48))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    load_image(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_min_side_decodes_large_jpegs_smaller_but_not_below_it(tmp_path):
    path = write_image(tmp_path / "big.jpg", size=(1600, 1200))
    small = load_image(path, min_side=256)
    assert 256 <= min(small.shape[:2]) < 1200
    assert small.shape[1] / small.shape[0] == pytest.approx(1600 / 1200, rel=0.01)


# --- the encoder contract, on a tiny random-weight model ----------------------------------------


@pytest.fixture(scope="module")
def tiny_timm():
    return make_tiny_timm()


@pytest.fixture
def encoder(tiny_timm):
    return TimmImageEncoder(tiny_timm, "timm:test_efficientnet", "cpu", FakeText())


def check_features(feats: ImageFeatures, n: int, dim: int) -> None:
    assert feats.features.shape == (n, dim) and feats.features.dtype == np.float32
    assert feats.probs.shape == (n, 1000) and feats.probs.dtype == np.float32
    assert feats.text_space.shape == (n, FAKE_DIM) and feats.text_space.dtype == np.float32
    for array in (feats.features, feats.probs, feats.text_space):
        assert np.isfinite(array).all()
    np.testing.assert_allclose(feats.probs.sum(axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(feats.features, axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(feats.text_space, axis=1), 1.0, rtol=1e-4)


def test_timm_encoder_contract(encoder):
    images = [rgb(50, 70, 1), rgb(300, 200, 2), rgb(16, 16, 3)]
    feats = encoder.encode(images)
    check_features(feats, 3, encoder.dim)
    scores = encoder.label_scores(feats, ["cat", "dog", "a red car"])
    assert scores.shape == (3, 3) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    concepts = encoder.concepts(feats, top_k=4)
    assert [len(c) for c in concepts] == [4, 4, 4]
    for ranked in concepts:
        values = [score for _, score in ranked]
        assert values == sorted(values, reverse=True) and all(0 <= v <= 1 + 1e-6 for v in values)


def test_batches_give_the_same_result_as_one_pass(encoder, monkeypatch):
    images = [rgb(40, 40, seed) for seed in range(5)]
    whole = encoder.encode(images)
    monkeypatch.setattr(image_encoders, "BATCH_SIZE", 2)
    pieces = encoder.encode(images)
    np.testing.assert_allclose(pieces.probs, whole.probs, atol=1e-5)
    np.testing.assert_allclose(pieces.features, whole.features, atol=1e-5)
    assert encoder.encode([]).probs.shape == (0, 1000)


def test_batch_pixels_resized_in_threads_equal_the_transform_image_by_image(encoder):
    from PIL import Image

    images = [rgb(h, w, seed) for seed, (h, w) in enumerate([(300, 200), (40, 90), (77, 77)])]
    threaded = image_encoders._fast_pixels(encoder.transform)(images, "cpu")
    one_by_one = torch.stack([encoder.transform(Image.fromarray(i)) for i in images])
    assert image_encoders.RESIZE_THREADS == 1 or image_encoders._resize_pools
    assert torch.equal(threaded, one_by_one)


def test_encoder_rejects_arrays_that_are_not_rgb_uint8(encoder):
    with pytest.raises(ValueError, match="RGB uint8"):
        encoder.encode([np.zeros((8, 8), dtype=np.uint8)])
    with pytest.raises(ValueError, match="RGB uint8"):
        encoder.encode([np.zeros((8, 8, 3), dtype=np.float32)])


def test_class_text_embeddings_are_computed_once_and_cached(tiny_timm, isolated_cache):
    first = FakeText("fake:cache-check")
    TimmImageEncoder(tiny_timm, "timm:t", "cpu", first).encode([rgb(20, 20)])
    assert first.calls == 1
    again = FakeText("fake:cache-check")
    TimmImageEncoder(tiny_timm, "timm:t", "cpu", again).encode([rgb(20, 20)])
    assert again.calls == 0
    assert list((isolated_cache / "models").glob("imagenet-class-text-fake_cache-check-*.npy"))


# --- the zero-shot method, on controlled class probabilities ------------------------------------


def class_index(name: str) -> int:
    return next(c.index for c in conse.imagenet_classes() if c.name == name)


def test_class_table_is_imagenet_in_order_with_wordnet_text():
    classes = conse.imagenet_classes()
    assert len(classes) == 1000 and [c.index for c in classes] == list(range(1000))
    tabby = classes[class_index("tabby")]
    assert tabby.wnid == "n02123045" and "cat" in tabby.ancestors
    assert {"animal", "mammal", "cat"} <= set(tabby.coarse)
    assert "vehicle" in classes[class_index("moped")].coarse
    assert "container" not in classes[class_index("moped")].coarse


def test_labels_follow_the_probable_classes():
    text = FakeText()
    classes = conse.class_text_embeddings(text)
    labels = conse.label_embeddings(text, ["cat", "motorcycle", "coffee"])
    probs = np.full((3, 1000), 1e-4, dtype=np.float32)
    for row, name in enumerate(("tabby", "moped", "espresso")):
        probs[row, class_index(name)] = 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    scores = conse.label_distribution(probs, classes, labels)
    assert list(scores.argmax(axis=1)) == [0, 1, 2]
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def test_conse_projection_is_the_weighted_mean_of_the_top_classes():
    classes = np.eye(4, dtype=np.float32)
    probs = np.array([[0.6, 0.3, 0.1, 0.0]], dtype=np.float32)
    projected = conse.conse_project(probs, classes, top_t=2)
    expected = np.array([0.6, 0.3, 0.0, 0.0]) / np.hypot(0.6, 0.3)
    np.testing.assert_allclose(projected[0], expected, rtol=1e-5)


def test_concepts_merge_classes_with_their_coarse_categories():
    probs = np.zeros((1, 1000), dtype=np.float32)
    probs[0, class_index("tabby")] = 0.5
    probs[0, class_index("Egyptian cat")] = 0.3
    probs[0, class_index("moped")] = 0.2
    top = dict(conse.concept_scores(probs, top_k=8)[0])
    assert top["animal"] == pytest.approx(0.8) and top["cat"] == pytest.approx(0.8)
    assert top["tabby"] == pytest.approx(0.5)
    assert top["vehicle"] == pytest.approx(0.2)


# --- loading weights and creating encoders by id -----------------------------------------------


def test_weights_under_other_names_load_by_position(tiny_timm):
    renamed = {f"_other.{i}": t.clone() for i, t in enumerate(tiny_timm.state_dict().values())}
    fresh = timm.create_model("test_efficientnet", pretrained=False)
    load_weights(fresh, renamed, "timm:test")
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(fresh.eval()(x), tiny_timm.eval()(x))
    with pytest.raises(ModelUnavailable, match="do not fit"):
        load_weights(fresh, dict(list(renamed.items())[:-1]), "timm:test")


def test_timm_model_from_a_local_file(tmp_path, tiny_timm, monkeypatch):
    monkeypatch.setattr(image_encoders, "default_text_encoder", lambda device: FakeText())
    torch.save(tiny_timm.state_dict(), tmp_path / "weights.pth")
    encoder = create_encoder(f"timm:test_efficientnet@{tmp_path / 'weights.pth'}", "cpu")
    image = [rgb(40, 40)]
    np.testing.assert_allclose(
        encoder.encode(image).probs,
        TimmImageEncoder(tiny_timm, "t", "cpu", FakeText()).encode(image).probs,
        atol=1e-5,
    )
    with pytest.raises(ModelUnavailable):
        create_encoder(f"timm:no_such_architecture@{tmp_path / 'weights.pth'}", "cpu")
    (tmp_path / "damaged.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailable, match=r"cannot read damaged\.pth") as error:
        create_encoder(f"timm:test_efficientnet@{tmp_path / 'damaged.pth'}", "cpu")
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def tiny_clip_files(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


def test_open_clip_encoder_contract(tiny_clip_files, monkeypatch, isolated_cache):
    config_path, weights = tiny_clip_files
    monkeypatch.setattr(image_encoders, "default_text_encoder", lambda device: FakeText())
    monkeypatch.setattr(image_encoders, "CLIP_IMAGENET_TEMPLATES", ("a photo of a {}.",))
    encoder = create_encoder(f"open_clip:{config_path}@{weights}", "cpu")
    assert encoder.modality == "image" and encoder.dim == TINY_CLIP_CONFIG["embed_dim"]
    feats = encoder.encode([rgb(64, 48, 1), rgb(20, 30, 2)])
    check_features(feats, 2, TINY_CLIP_CONFIG["embed_dim"])
    scores = encoder.label_scores(feats, ["cat", "dog", "car", "person"])
    assert scores.shape == (2, 4) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert len(encoder.concepts(feats, top_k=3)[0]) == 3
    cached = list((isolated_cache / "models").glob("open_clip-imagenet-zero-shot-*.npy"))
    assert len(cached) == 1
    again = create_encoder(f"open_clip:{config_path}@{weights}", "cpu")
    np.testing.assert_allclose(again.encode([rgb(64, 48, 1)]).probs, feats.probs[:1], atol=1e-5)


def test_open_clip_hub_names_need_online(monkeypatch):
    monkeypatch.delenv("MMFUSE_ONLINE", raising=False)
    with pytest.raises(ModelUnavailable, match="--online"):
        create_encoder("open_clip:ViT-B-32/laion2b_s34b_b79k", "cpu")


# --- the real default models on the development images ----------------------------------------

CAPTIONS = "images/skimage_captions/descriptions_from_openai_CLIP_notebook.json"
ELEPHANTS = ("bw", "cmyk", "truncated_file", "with_exif_orientation")


@pytest.fixture(scope="module")
def lite0(tmp_path_factory):
    # The same cache root as conftest's (function-scoped) isolated_cache, set here too because
    # a module fixture is created before it and loading hashes the weights into the cache.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMFUSE_CACHE", str(tmp_path_factory.getbasetemp() / "mmfuse-cache"))
        yield create_encoder("timm:tf_efficientnet_lite0", "cpu")


@pytest.mark.integration
def test_chelsea_is_a_cat(shared_data, lite0):
    feats = lite0.encode([load_image(shared_data / "images/skimage_captions/chelsea.png")])
    labels = ["cat", "dog", "car", "person", "food"]
    assert labels[int(lite0.label_scores(feats, labels)[0].argmax())] == "cat"
    assert dict(lite0.concepts(feats)[0])["cat"] > 0.8


@pytest.mark.integration
def test_captions_are_matched_to_their_photos(shared_data, lite0):
    captions = json.loads((shared_data / CAPTIONS).read_text())
    folder = shared_data / "images/skimage_captions"
    names = list(captions)
    images = [load_image(next(folder.glob(f"{name}.*"))) for name in names]
    scores = lite0.label_scores(lite0.encode(images), list(captions.values()))
    right = int((scores.argmax(axis=1) == np.arange(len(names))).sum())
    assert right >= 5, f"{right}/8 captions ranked first"


@pytest.mark.integration
def test_damaged_elephants_give_a_label_or_one_line_error(shared_data, lite0):
    labels = ["elephant", "bear", "dog", "cattle", "person", "vehicle", "empty scene"]
    for variant in ELEPHANTS:
        path = shared_data / f"images/speciesnet/african_elephants_{variant}.jpg"
        try:
            image = load_image(path)
        except InputError as error:
            assert "\n" not in str(error) and path.name in str(error)
            continue
        scores = lite0.label_scores(lite0.encode([image]), labels)[0]
        assert labels[int(scores.argmax())] == "elephant", variant
