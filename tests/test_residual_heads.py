"""Residual heads (``TaskConfig.prior``): logits that start from the stacked models' mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmfuse.fusion.model import FusionConfig, FusionModel, TaskConfig, load_model, save_model
from mmfuse.fusion.train import TrainOptions, train
from mmfuse.types import ModalityTokens

D = 8
# Two stacked tokens of 5 columns: a 3-class task in [0, 3), a 2-class task in [3, 5).
PRIOR = {"bow": [0, 3], "embedding": [0, 3]}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def residual_model(seed: int = 0) -> FusionModel:
    torch.manual_seed(seed)
    return FusionModel(
        FusionConfig(
            modalities={"text": D, "bow": 5, "embedding": 5},
            tasks=[
                TaskConfig("mood", classes=["neg", "neu", "pos"], cosine=False, prior=PRIOR),
                TaskConfig("valence", kind="regression", value_range=(-1.0, 1.0)),
            ],
            d_model=D,
            n_layers=0,
            n_heads=2,
            d_task_ff=8,
            dropout=0.0,
        )
    ).eval()


def single(values: np.ndarray, present: np.ndarray | None = None) -> ModalityTokens:
    n = len(values)
    mask = np.ones((n, 1), bool) if present is None else present[:, None]
    return ModalityTokens(values[:, None].astype(np.float32), mask, np.zeros((n, 1), np.float32))


def stack_tokens(rng, n: int) -> np.ndarray:
    three = rng.dirichlet(np.ones(3), n)
    two = rng.dirichlet(np.ones(2), n)
    return np.concatenate([three, two], axis=1)


def test_untrained_residual_head_gives_the_stacks_mean():
    rng = np.random.default_rng(0)
    bow, embedding = stack_tokens(rng, 6), stack_tokens(rng, 6)
    text = rng.normal(size=(6, D))
    inputs = {"text": single(text), "bow": single(bow), "embedding": single(embedding)}
    with torch.no_grad():
        scores = residual_model()(inputs).scores["mood"].numpy()
    mean = (bow[:, :3] + embedding[:, :3]) / 2
    np.testing.assert_allclose(scores, mean / mean.sum(axis=1, keepdims=True), atol=1e-5)


def test_prior_uses_only_present_stacks_and_none_without_them():
    rng = np.random.default_rng(1)
    bow, embedding = stack_tokens(rng, 4), stack_tokens(rng, 4)
    present = np.array([True, False, True, False])
    model = residual_model()
    inputs = {
        "text": single(rng.normal(size=(4, D))),
        "bow": single(bow),
        "embedding": single(embedding, present),
    }
    with torch.no_grad():
        scores = model(inputs).scores["mood"].numpy()
        alone = model({"text": inputs["text"]}).scores["mood"].numpy()
    expected = np.where(present[:, None], (bow[:, :3] + embedding[:, :3]) / 2, bow[:, :3])
    np.testing.assert_allclose(scores, expected / expected.sum(1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(alone, np.full((4, 3), 1 / 3), atol=1e-6)  # zero correction


def test_prior_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(2)
    model = residual_model()
    with torch.no_grad():
        model.heads["mood"].linear.weight.normal_()
    inputs = {"text": single(rng.normal(size=(3, D))), "bow": single(stack_tokens(rng, 3))}
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert loaded.task("mood").prior == PRIOR
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded(inputs).scores["mood"].numpy(), model(inputs).scores["mood"].numpy()
        )


def test_training_corrects_a_wrong_prior():
    """The stacks say class 0; the labels say class 2: the correction learns it."""
    rng = np.random.default_rng(3)
    n = 64
    wrong = np.tile([0.8, 0.1, 0.1, 0.5, 0.5], (n, 1))
    text = rng.normal(size=(n, D))
    inputs = {"text": single(text), "bow": single(wrong), "embedding": single(wrong)}
    labels = {"mood": np.full(n, 2), "valence": np.full(n, np.nan, np.float32)}
    model = residual_model()
    train(model, inputs, labels, options=TrainOptions(epochs=30, batch_size=16, learning_rate=1e-2))
    with torch.no_grad():
        scores = model(inputs).scores["mood"].numpy()
    assert (scores.argmax(axis=1) == 2).all()


@pytest.mark.parametrize(
    "task",
    [
        dict(name="t", classes=["a", "b"], cosine=True, prior={"bow": [0, 2]}),
        dict(name="t", kind="regression", cosine=False, prior={"bow": [0, 1]}),
        dict(name="t", classes=["a", "b", "c"], cosine=False, prior={"bow": [0, 2]}),
    ],
)
def test_prior_needs_a_linear_multiclass_head_of_matching_width(task):
    with pytest.raises(ValueError, match="prior"):
        TaskConfig(**task)
