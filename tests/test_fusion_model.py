"""The fusion model's contracts: masking, pass-through, shares, checkpoints, zero/few-shot."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from helpers.scoring import evaluate

from mmfuse.encoders.conse import normalise
from mmfuse.errors import ModelUnavailable
from mmfuse.fusion.fewshot import (
    apply_zero_shot,
    class_prompts,
    class_vectors_from_examples,
    class_vectors_from_text,
    leave_one_out_blend,
)
from mmfuse.fusion.inference import infer
from mmfuse.fusion.model import (
    CHECKPOINTS_DIR,
    FusionConfig,
    FusionModel,
    TaskConfig,
    create_model,
    list_models,
    load_model,
    save_model,
)
from mmfuse.types import ModalityTokens

D = 16  # d_model of the test models, and the size of their "text space"
TASKS = [
    TaskConfig("mood", classes=["sad", "calm", "glad"]),
    TaskConfig("tags", kind="multilabel", classes=["a", "b"]),
    TaskConfig("score", kind="regression", value_range=(-1.0, 1.0)),
]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(seed: int = 0, scramble: bool = False, **config) -> FusionModel:
    """A small model over "text" and "audio" (both D wide) and "lex" (5 wide).

    ``scramble`` gives every parameter random values, so no zero-initialised branch hides a
    flaw the test is after.
    """
    torch.manual_seed(seed)
    settings = dict(
        modalities={"text": D, "audio": D, "lex": 5},
        tasks=[TaskConfig(**vars(t)) for t in TASKS],
        d_model=D,
        n_layers=2,
        n_heads=2,
        d_ff=32,
        d_task_ff=8,
        dropout=0.0,
    )
    model = FusionModel(FusionConfig(**{**settings, **config}))
    if scramble:
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.3)
    return model.eval()


def tokens(rng, lengths: list[int], dim: int, width: int | None = None) -> ModalityTokens:
    """Random tokens for items with the given token counts (0: modality absent)."""
    width = width or max(max(lengths), 1)
    mask = np.arange(width)[None, :] < np.asarray(lengths)[:, None]
    values = rng.normal(size=(len(lengths), width, dim)).astype(np.float32)
    times = np.tile(np.arange(width, dtype=np.float32) * 2.5, (len(lengths), 1))
    return ModalityTokens(values * mask[..., None], mask, times)


def run(model: FusionModel, inputs: dict):
    with torch.no_grad():
        return model(inputs)


def test_masked_modality_equals_removed_modality():
    rng = np.random.default_rng(1)
    model = tiny_model(scramble=True)
    inputs = {"text": tokens(rng, [2, 1, 3], D), "audio": tokens(rng, [0, 2, 1], D)}
    inputs["audio"].tokens[0] = 1e6  # padding of an absent modality may hold anything
    together = run(model, inputs)
    alone = run(model, {"text": ModalityTokens(*(a[:1] for a in vars(inputs["text"]).values()))})
    for task in model.tasks:
        torch.testing.assert_close(together.logits[task][:1], alone.logits[task])
        torch.testing.assert_close(together.pooled[task][:1], alone.pooled[task])
        torch.testing.assert_close(together.shares[task][:1], alone.shares[task])
        assert together.shares[task][0, model.modalities.index("audio")] == 0.0


def test_untrained_model_pools_the_mean_of_its_inputs():
    rng = np.random.default_rng(2)
    model = tiny_model(modalities={"text": D, "audio": D})
    inputs = {"text": tokens(rng, [1, 3, 0], D), "audio": tokens(rng, [2, 0, 1], D)}
    output = run(model, inputs)
    for i in range(3):
        present = np.concatenate([m.tokens[i][m.mask[i]] for m in inputs.values()])
        for task in model.tasks:
            np.testing.assert_allclose(output.pooled[task][i].numpy(), present.mean(0), atol=1e-5)


def test_item_without_tokens_gives_finite_neutral_outputs():
    rng = np.random.default_rng(3)
    model = tiny_model(scramble=True)
    inputs = {"text": tokens(rng, [0, 2], D), "audio": tokens(rng, [0, 1], D)}
    output = run(model, inputs)
    for task in model.tasks:
        assert torch.isfinite(output.logits[task]).all()
        assert torch.isfinite(output.scores[task]).all()
        assert torch.equal(output.pooled[task][0], torch.zeros(D))
        assert torch.equal(output.shares[task][0], torch.zeros(3))
    assert output.scores["mood"].shape == (2, 3) and output.scores["tags"].shape == (2, 2)
    assert output.scores["score"].shape == (2,)


def test_attention_shares_sum_to_one_and_follow_the_modalities():
    rng = np.random.default_rng(4)
    model = tiny_model(scramble=True)
    inputs = {
        "text": tokens(rng, [1, 2, 0, 3], D),
        "audio": tokens(rng, [2, 0, 1, 1], D),
        "lex": tokens(rng, [1, 1, 1, 0], 5),
    }
    output = run(model, inputs)
    present = np.stack([m.mask.any(1) for m in inputs.values()], axis=1)
    for task in model.tasks:
        shares = output.shares[task].numpy()
        np.testing.assert_allclose(shares.sum(1), 1.0, atol=1e-5)
        assert (shares[~present] == 0).all() and (shares[present] > 0).all()


def test_an_alias_reads_through_its_targets_weights_with_shares_of_its_own():
    rng = np.random.default_rng(6)
    model = tiny_model(scramble=True)
    model.add_alias("speech", "text")
    spoken = tokens(rng, [2, 1], D)
    as_text, as_speech = run(model, {"text": spoken}), run(model, {"speech": spoken})
    both = run(model, {"text": tokens(rng, [1, 1], D), "speech": spoken})
    speech_column = model.modalities.index("speech")
    for task in model.tasks:
        torch.testing.assert_close(as_text.logits[task], as_speech.logits[task])
        torch.testing.assert_close(as_speech.shares[task][:, speech_column], torch.ones(2))
        assert (both.shares[task][:, speech_column] > 0).all()
    with pytest.raises(ValueError, match="new and an existing modality"):
        model.add_alias("text", "audio")


def test_untrained_shares_split_evenly_over_tokens():
    rng = np.random.default_rng(5)
    model = tiny_model()
    output = run(model, {"text": tokens(rng, [3], D), "audio": tokens(rng, [1], D)})
    np.testing.assert_allclose(output.shares["mood"][0].numpy(), [0.75, 0.25, 0.0], atol=1e-6)


@pytest.mark.parametrize("name", list_models())
def test_named_configs_build_and_run(name):
    if (CHECKPOINTS_DIR / name).is_dir():  # a shipped checkpoint: its own tasks, no overrides
        model = create_model(name).eval()
    else:
        model = create_model(name, tasks=[TaskConfig(**vars(t)) for t in TASKS]).eval()
    rng = np.random.default_rng(6)
    inputs = {m: tokens(rng, [1, 0, 2], dim) for m, dim in model.config.modalities.items()}
    output = run(model, inputs)
    for task in model.tasks:
        assert output.pooled[task].shape == (3, model.config.d_model)
        assert torch.isfinite(output.logits[task]).all()


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    rng = np.random.default_rng(7)
    model = tiny_model(scramble=True, meta={"trained_on": "synthetic"})
    inputs = {"text": tokens(rng, [1, 2, 0], D), "lex": tokens(rng, [1, 1, 1], 5)}
    save_model(model, tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
        "sha256.json",
    ]
    loaded = create_model(tmp_path / "ckpt")
    assert loaded.config == model.config
    before, after = run(model, inputs), run(loaded, inputs)
    for task in model.tasks:
        assert torch.equal(before.scores[task], after.scores[task])
        assert torch.equal(before.shares[task], after.shares[task])


def test_half_precision_checkpoint_is_smaller_and_close(tmp_path):
    rng = np.random.default_rng(8)
    model = tiny_model(scramble=True)
    inputs = {"text": tokens(rng, [1, 2], D)}
    save_model(model, tmp_path / "full")
    save_model(model, tmp_path / "half", dtype=torch.float16)
    full, half = (tmp_path / p / "model.safetensors" for p in ("full", "half"))
    assert half.stat().st_size < 0.6 * full.stat().st_size
    before, after = run(model, inputs), run(load_model(tmp_path / "half"), inputs)
    torch.testing.assert_close(before.scores["mood"], after.scores["mood"], atol=2e-2, rtol=0)


class _Payload:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_code_in_weights_is_refused(tmp_path):
    model = tiny_model()
    folder = save_model(model, tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    with open(folder / "model.pt", "wb") as f:
        pickle.dump({"weights": _Payload(marker)}, f, protocol=2)
    with pytest.raises(ModelUnavailable, match="refusing"):
        load_model(folder)
    assert not marker.exists()


def test_plain_tensor_pickle_still_loads(tmp_path):
    model = tiny_model(scramble=True)
    folder = save_model(model, tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "model.pt")
    loaded = load_model(folder)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True)
    )


def test_unknown_names_and_bad_checkpoints_raise_one_line(tmp_path):
    with pytest.raises(ModelUnavailable, match="fusion-tiny"):
        create_model("no-such-model")
    folder = save_model(tiny_model(), tmp_path / "ckpt")
    other = FusionModel(FusionConfig(modalities={"text": D}, d_model=D, n_heads=2))
    save_model(other, tmp_path / "other")
    (folder / "model.safetensors").write_bytes((tmp_path / "other/model.safetensors").read_bytes())
    with pytest.raises(ModelUnavailable, match="do not fit"):
        load_model(folder)
    with pytest.raises(ValueError, match="unknown modalities"):
        tiny_model()({"video": tokens(np.random.default_rng(0), [1], D)})


def fake_encoder(dim: int):
    """A deterministic stand-in for a text encoder: each text maps to its own random vector."""

    def encode(texts: list[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(sum(map(ord, t)) * 7919 + len(t)).normal(size=dim) for t in texts
        ]
        return np.stack(rows).astype(np.float32)

    return encode


def noisy_items(rng, centres: np.ndarray, per_class: int, noise: float):
    """Items of one token each, a noisy copy of their class centre; returns (inputs, labels)."""
    labels = np.repeat(np.arange(len(centres)), per_class)
    unit = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    values = unit[labels] + noise * rng.normal(size=(len(labels), centres.shape[1])) / np.sqrt(D)
    n = len(labels)
    inputs = {
        "text": ModalityTokens(
            values[:, None].astype(np.float32), np.ones((n, 1), bool), np.zeros((n, 1), np.float32)
        )
    }
    return inputs, labels


DESCRIPTIONS = {
    "zebra": "a horse with black and white stripes",
    "lion": "a big cat with a mane",
    "hippo": "a heavy animal living in rivers",
    "empty": "",
}


def test_zero_shot_from_descriptions_classifies_untrained():
    encode = fake_encoder(D)
    model = tiny_model(modalities={"text": D})
    vectors = apply_zero_shot(model, "mood", DESCRIPTIONS, encode)
    assert model.task("mood").classes == list(DESCRIPTIONS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert class_prompts(DESCRIPTIONS)[0] == "zebra: a horse with black and white stripes"
    assert class_prompts(DESCRIPTIONS)[3] == "empty"
    centres = encode(class_prompts(DESCRIPTIONS))
    inputs, labels = noisy_items(np.random.default_rng(9), centres, 25, noise=0.8)
    predicted = infer(model, inputs).scores["mood"].argmax(1)
    assert np.mean(predicted == labels) > 0.95


def test_few_shot_prototypes_beat_off_target_descriptions():
    rng = np.random.default_rng(10)
    true_centres = rng.normal(size=(4, D))
    # the descriptions only half agree with what the items look like
    text_vectors = class_vectors_from_text(DESCRIPTIONS, fake_encoder(D))
    off_text = (
        0.6 * text_vectors + 0.4 * true_centres / np.linalg.norm(true_centres, axis=1)[:, None]
    )
    support, support_labels = noisy_items(rng, true_centres, 5, noise=1.0)
    query, query_labels = noisy_items(rng, true_centres, 50, noise=1.0)
    model = tiny_model(modalities={"text": D})
    model.set_class_vectors("mood", off_text, classes=list(DESCRIPTIONS))
    zero_shot = np.mean(infer(model, query).scores["mood"].argmax(1) == query_labels)
    few = class_vectors_from_examples(
        model, "mood", support, support_labels, k=5, text_prototypes=off_text, blend=0.8
    )
    model.set_class_vectors("mood", few)
    few_shot = np.mean(infer(model, query).scores["mood"].argmax(1) == query_labels)
    assert few_shot > zero_shot + 0.1 and few_shot > 0.8


def test_leave_one_out_trusts_whichever_of_examples_and_descriptions_separates():
    rng = np.random.default_rng(12)
    centres = normalise(rng.normal(size=(3, D)))
    labels = np.repeat(np.arange(3), 5)
    clean = normalise(centres[labels] + 0.05 * rng.normal(size=(15, D)))
    misleading = np.roll(centres, 1, axis=0)  # each description fits another class
    assert leave_one_out_blend(clean, labels, misleading) >= 0.75
    noisy = normalise(centres[labels] + 0.3 * rng.normal(size=(15, D)))
    assert leave_one_out_blend(noisy, labels, centres) <= 0.5  # the true centres: no better


def test_few_shot_uses_text_for_classes_without_examples():
    rng = np.random.default_rng(11)
    model = tiny_model(modalities={"text": D})
    text_vectors = class_vectors_from_text(DESCRIPTIONS, fake_encoder(D))
    model.set_class_vectors("mood", text_vectors, classes=list(DESCRIPTIONS))
    support, labels = noisy_items(rng, rng.normal(size=(4, D)), 3, noise=0.1)
    labels[labels == 2] = -1
    few = class_vectors_from_examples(
        model, "mood", support, labels, k=3, text_prototypes=text_vectors
    )
    np.testing.assert_allclose(few[2], text_vectors[2], atol=1e-6)
    assert not np.allclose(few[0], text_vectors[0])
    with pytest.raises(ValueError, match="no example and no text"):
        class_vectors_from_examples(model, "mood", support, labels, k=3)


def test_class_vectors_only_for_cosine_heads_and_matching_shapes():
    model = tiny_model(tasks=[TaskConfig("kind", classes=["x", "y"], cosine=False)])
    with pytest.raises(ValueError, match="no cosine classifier"):
        model.set_class_vectors("kind", np.ones((2, D)))
    model.add_task(TaskConfig("topic", kind="multilabel", classes=["p", "q"]))
    with pytest.raises(ValueError, match="expected"):
        model.set_class_vectors("topic", np.ones((3, D)))
    model.set_class_vectors("topic", np.eye(3, D), classes=["p", "q", "r"])
    output = run(model, {"text": tokens(np.random.default_rng(0), [1], D)})
    assert output.scores["topic"].shape == (1, 3)


EMOTIONS = {  # TweetEval emotion classes, in label order (mapping.txt)
    "anger": "angry, furious, annoyed",
    "joy": "happy, joyful, delighted",
    "optimism": "hopeful and optimistic about the future",
    "sadness": "sad, depressed, unhappy",
}
SHOTS = 32  # labelled examples per class for few-shot


@pytest.fixture(scope="module")
def tweet_emotions(shared_data):
    """MiniLM embeddings of TweetEval emotion: (encode, validation split, few-shot examples)."""
    from mmfuse.encoders.base import create_encoder
    from mmfuse.registry import default_model

    encoder = create_encoder(default_model("text"), device="cpu")
    folder = shared_data / "text/tweeteval/emotion"

    def split(name: str, per_class: int | None = None):
        texts = (folder / f"{name}_text.txt").read_text().splitlines()
        labels = np.loadtxt(folder / f"{name}_labels.txt", dtype=int)
        if per_class:
            keep = np.sort(
                np.concatenate(
                    [np.flatnonzero(labels == c)[:per_class] for c in range(len(EMOTIONS))]
                )
            )
            texts, labels = [texts[i] for i in keep], labels[keep]
        vectors = encoder.encode(texts)[:, None]
        n = len(texts)
        text = ModalityTokens(vectors, np.ones((n, 1), bool), np.zeros((n, 1), np.float32))
        return {"text": text}, labels

    return encoder.encode, split("val"), split("train", SHOTS)


@pytest.mark.integration
def test_zero_and_few_shot_on_real_tweets(tweet_emotions):
    encode, (val_x, val_y), (shots_x, shots_y) = tweet_emotions
    model = create_model(
        "fusion-small",
        modalities={"text": 384},
        tasks=[TaskConfig("emotion", classes=list(EMOTIONS))],
    )
    text_vectors = apply_zero_shot(model, "emotion", EMOTIONS, encode)
    zero_shot = evaluate(model, val_x, {"emotion": val_y})["emotion"]["macro_f1"]
    few = class_vectors_from_examples(
        model, "emotion", shots_x, shots_y, k=SHOTS, text_prototypes=text_vectors
    )
    model.set_class_vectors("emotion", few)
    few_shot = evaluate(model, val_x, {"emotion": val_y})["emotion"]["macro_f1"]
    assert zero_shot > 0.4  # chance is about 0.25; measured 0.506
    assert few_shot > zero_shot + 0.02  # measured: 0.506 -> 0.544


def test_a_calibrated_head_scales_and_shifts_its_logits_and_keeps_them_when_saved(tmp_path):
    """``TaskConfig.calibration``: softmax(logits / T + bias), as fitted after training (the
    sarcasm head of mmfuse-base); saved in config.json and read back."""
    rng = np.random.default_rng(0)
    inputs = {"text": tokens(rng, [2, 3, 1], D)}
    plain = tiny_model(scramble=True)
    calibrated = tiny_model(scramble=True)
    calibrated.task("mood").calibration = {"temperature": 2.0, "bias": [0.0, -1.0, 0.5]}
    logits = run(plain, inputs).logits["mood"]
    expected = torch.softmax(logits / 2.0 + torch.tensor([0.0, -1.0, 0.5]), dim=-1)
    assert torch.allclose(run(calibrated, inputs).scores["mood"], expected, atol=1e-6)
    assert torch.allclose(run(calibrated, inputs).scores["tags"], run(plain, inputs).scores["tags"])
    loaded = load_model(save_model(calibrated, tmp_path / "m"))
    assert loaded.task("mood").calibration == {"temperature": 2.0, "bias": [0.0, -1.0, 0.5]}
    assert torch.allclose(run(loaded.eval(), inputs).scores["mood"], expected, atol=1e-6)
    with pytest.raises(ValueError, match="calibration"):
        TaskConfig("mood", classes=["a", "b"], calibration={"temperature": 1.0, "bias": [0.0]})
