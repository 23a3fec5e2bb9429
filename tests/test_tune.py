"""Fine-tuned top layers of the text encoder (``mmfuse.tasks.social_media.tune``) on a tiny random
BERT.

What a user relies on: ``mmfuse train --tune-layers`` learns labels the frozen encoder does not
give, the shipped delta reloads to the same readings, and inference reads the same numbers
from the encoder's forward pass as training did from the cached lower layers.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse.cli import main
from mmfuse.encoders.text import TextEncoder
from mmfuse.fusion.inference import predict
from mmfuse.registry import resolve
from mmfuse.tasks.social_media.fit import Checkpoint
from mmfuse.tasks.social_media.stack import TUNED, TUNED_WEIGHTS_FILE
from mmfuse.tasks.social_media.tune import TunedTop, TuneOptions, fit_tuned, predict_states

DIM = 32
POSITIVE = ["love", "great", "happy", "best"]
NEGATIVE = ["hate", "awful", "sad", "worst"]
FILLER = ["the", "a", "day", "today", "this", "was", "my", "our"]


def posts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Synthetic posts: two sentiment words among filler words; label 1 for positive."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    texts = []
    for label in labels:
        words = list(rng.choice(POSITIVE if label else NEGATIVE, 2)) + list(rng.choice(FILLER, 4))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, labels


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    folder = save_tiny_sentence_transformer(
        tmp_path_factory.mktemp("tiny") / "st", POSITIVE + NEGATIVE + FILLER, DIM, layers=3
    )
    return f"sentence-transformers:{folder}"


@pytest.fixture(scope="module")
def encoder(tiny) -> TextEncoder:
    return TextEncoder(resolve(tiny), precision="float32")


@pytest.mark.parametrize("layers", [1, 3])  # the top one; all of them, from the word embeddings
def test_readout_reads_what_training_reads_and_leaves_the_embedding_alone(encoder, layers):
    texts, _ = posts(12, seed=0)
    texts.append("great " * 80)  # longer than the window: read in two windows
    model = TunedTop(encoder, {"sentiment": ["neg", "pos"]}, layers=layers)
    embeddings, read = encoder.encode_read(texts, model.readout())
    np.testing.assert_allclose(embeddings, encoder.encode(texts), atol=1e-6)
    cached = predict_states(encoder, model, encoder.lower_states(texts[:-1], model.split))
    np.testing.assert_allclose(read[:-1], cached, atol=1e-3)  # cached states are float16
    np.testing.assert_allclose(read.sum(1), 1.0, atol=1e-5)


def test_tuned_layers_are_at_most_the_encoders(encoder):
    with pytest.raises(ValueError, match="between 1 and 3"):
        TunedTop(encoder, {"sentiment": ["neg", "pos"]}, layers=4)


def test_fine_tuning_learns_the_labels_and_leaves_the_encoder_frozen(encoder):
    texts, labels = posts(200, seed=1)
    held_texts, held_labels = posts(60, seed=2)
    options = TuneOptions(layers=1, epochs=8, batch_size=16, learning_rate=1e-3)
    split = len(encoder.layers) - options.layers
    before = {k: v.clone() for k, v in encoder.model.state_dict().items()}
    classes = {"sentiment": ["neg", "pos"]}
    model = fit_tuned(
        encoder, encoder.lower_states(texts, split), {"sentiment": labels}, classes, options
    )
    read = predict_states(encoder, model, encoder.lower_states(held_texts, split))
    assert np.mean(read.argmax(1) == held_labels) >= 0.9
    assert all(torch.equal(v, before[k]) for k, v in encoder.model.state_dict().items())
    frozen = dict(encoder.layers[split].named_parameters())
    assert any(not torch.equal(v, frozen[k]) for k, v in model.layers[0].named_parameters())


def test_train_with_tuned_layers_saves_a_delta_that_reloads_to_the_same_readings(tiny, tmp_path):
    texts, labels = posts(160, seed=3)
    data = tmp_path / "posts"
    data.mkdir()
    for i, text in enumerate(texts):
        (data / f"p{i:03d}.txt").write_text(text, encoding="utf-8")
    with open(tmp_path / "labels.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "sentiment"])
        writer.writerows([f"p{i:03d}", "pos" if y else "neg"] for i, y in enumerate(labels))
    out = tmp_path / "model"
    argv = ["train", "--out", out, "--text-model", tiny, "--base", "fusion-tiny"]
    argv += ["--labels", tmp_path / "labels.csv", "--data", data, "--tune-layers", "1"]
    argv += ["--tune-epochs", "2", "--batch-size", "16"]
    assert main([str(a) for a in argv]) == 0
    assert (out / TUNED_WEIGHTS_FILE).is_file()
    assert json.loads((out / "stacks.json").read_text())[TUNED]["layers"] == 1
    new, new_labels = posts(40, seed=4)
    first = Checkpoint.load(out)
    again = Checkpoint.load(out)
    probabilities = predict(first.model, first.featurizer.featurize_texts(new))["sentiment"]
    reloaded = predict(again.model, again.featurizer.featurize_texts(new))["sentiment"]
    np.testing.assert_allclose(probabilities, reloaded, atol=1e-5)
    assert np.mean(probabilities.argmax(1) == new_labels) >= 0.9


def test_tune_layers_need_many_shot_training_with_stacks(tiny, tmp_path):
    argv = ["train", "--out", tmp_path / "m", "--text-model", tiny, "--shots", "2"]
    argv += ["--examples", tmp_path, "--tune-layers", "1"]
    assert main([str(a) for a in argv]) == 2


def test_a_negative_tune_layers_is_a_usage_error(tiny, tmp_path, capsys):
    argv = ["train", "--out", tmp_path / "m", "--text-model", tiny, "--labels", tmp_path / "x"]
    assert main([str(a) for a in [*argv, "--tune-layers", "-1"]]) == 2
    assert "--tune-layers must be 0 or more" in capsys.readouterr().err


def test_blended_fusion_starts_from_the_tuned_reading_and_trains_on_unseen_tokens(tiny):
    from mmfuse.fusion.labels import holdout_mask
    from mmfuse.fusion.train import TrainOptions
    from mmfuse.tasks.social_media.featurize import Featurizer, FeaturizerConfig
    from mmfuse.tasks.social_media.fit import FitOptions, fit_many_shot
    from mmfuse.types import Item

    texts, labels = posts(400, seed=5)
    featurizer = Featurizer(FeaturizerConfig(text_model=tiny, text=False), cache=False)
    decoded = [featurizer.decode(Item(str(i), text=t)) for i, t in enumerate(texts)]
    options = FitOptions(
        base="fusion-tiny",
        residual=("sentiment",),
        tune=TuneOptions(layers=1, epochs=6, batch_size=16, learning_rate=1e-3),
        prior_tokens={"sentiment": (TUNED,)},
        blend=True,
        train=TrainOptions(epochs=20, batch_size=16, patience=5, balance_classes=True),
    )
    y = {"sentiment": labels}
    checkpoint, history = fit_many_shot(
        featurizer, decoded, y, {"sentiment": ["neg", "pos"]}, None, options
    )
    assert list(checkpoint.model.task("sentiment").prior) == [TUNED]
    held = int(holdout_mask(y, options.holdout, options.seed).sum())
    assert history.epochs[0].val_metrics["sentiment"]["n"] == round(0.3 * held)  # of the held
    new, new_labels = posts(60, seed=6)
    read = predict(checkpoint.model, featurizer.featurize_texts(new))["sentiment"]
    assert np.mean(read.argmax(1) == new_labels) >= 0.9
