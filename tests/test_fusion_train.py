"""Many-shot training: masked multi-task losses, determinism, early stopping, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.scoring import evaluate

from mmfuse.fusion.inference import predict
from mmfuse.fusion.metrics import classification_metrics, multilabel_metrics, regression_metrics
from mmfuse.fusion.model import FusionConfig, FusionModel, TaskConfig
from mmfuse.fusion.train import TrainOptions, drop_modalities, train
from mmfuse.types import ModalityTokens

D = 16

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(seed: int = 0) -> FusionModel:
    torch.manual_seed(seed)
    config = FusionConfig(
        modalities={"a": D, "b": D, "lex": 4},
        tasks=[
            TaskConfig("kind", classes=["x", "y", "z"]),
            TaskConfig("tags", kind="multilabel", classes=["p", "q"]),
            TaskConfig("level", kind="regression", value_range=(-1.0, 1.0)),
        ],
        d_model=D,
        n_layers=1,
        n_heads=2,
        d_ff=32,
        d_task_ff=16,
        dropout=0.1,
    )
    return FusionModel(config)


def synthetic(n: int, seed: int, missing: float = 0.3, noise_labels: bool = False):
    """Items with modalities "a" (1-2 tokens), "b" (absent for a fifth) and "lex" (1 token).

    "kind" is the nearest of three directions to the mean "a" token, "level" a squashed
    projection of "b", "tags" the signs of one projection of each; a share ``missing`` of
    each task's labels is missing.
    """
    rng = np.random.default_rng(seed)
    directions = np.random.default_rng(99).normal(size=(4, D))  # shared by all splits
    a_len = rng.integers(1, 3, n)
    a_mask = np.arange(2)[None] < a_len[:, None]
    a = rng.normal(size=(n, 2, D)).astype(np.float32) * a_mask[..., None]
    b_mask = (rng.random(n) > 0.2)[:, None]
    b = rng.normal(size=(n, 1, D)).astype(np.float32) * b_mask[..., None]
    lex = rng.normal(size=(n, 1, 4)).astype(np.float32)
    a_mean = a.sum(1) / a_len[:, None]
    kind = np.argmax(a_mean @ directions[:3].T, axis=1)
    level = np.where(b_mask[:, 0], np.tanh(b[:, 0] @ directions[3] / 2), np.nan)
    tags = np.stack([a_mean @ directions[0] > 0, b[:, 0] @ directions[1] > 0], 1).astype(float)
    tags[~b_mask[:, 0]] = np.nan
    if noise_labels:
        kind = rng.integers(0, 3, n)
    kind[rng.random(n) < missing] = -1
    level[rng.random(n) < missing] = np.nan
    tags[rng.random(n) < missing] = np.nan

    def stamps(width):
        return np.tile(np.arange(width, dtype=np.float32), (n, 1))

    inputs = {
        "a": ModalityTokens(a, a_mask, stamps(2)),
        "b": ModalityTokens(b, b_mask, stamps(1)),
        "lex": ModalityTokens(lex, np.ones((n, 1), bool), stamps(1)),
    }
    return inputs, {"kind": kind, "tags": tags, "level": level.astype(np.float32)}


@pytest.fixture(scope="module")
def data():
    return synthetic(800, seed=1), synthetic(300, seed=2)


OPTIONS = TrainOptions(epochs=12, batch_size=64, learning_rate=3e-3, modality_dropout=0.1)


def test_multitask_training_lowers_the_loss_and_learns_every_task(data):
    (train_x, train_y), (val_x, val_y) = data
    model = make_model()
    before = evaluate(model, val_x, val_y)
    history = train(model, train_x, train_y, val_x, val_y, OPTIONS)
    after = evaluate(model, val_x, val_y)
    losses = [r.val_loss for r in history.epochs]
    assert min(losses) < 0.5 * losses[0]
    assert history.epochs[-1].train_loss < 0.5 * history.epochs[0].train_loss
    assert after["kind"]["accuracy"] > max(0.85, before["kind"]["accuracy"] + 0.3)
    assert after["level"]["pearson"] > 0.8
    assert after["tags"]["micro_f1"] > before["tags"]["micro_f1"] + 0.1
    assert history.best_epoch == 1 + int(np.argmin(losses))


def test_training_is_reproducible(data):
    (train_x, train_y), (val_x, val_y) = data
    options = TrainOptions(epochs=2, batch_size=64, modality_dropout=0.3)
    first, second, other = make_model(), make_model(), make_model()
    train(first, train_x, train_y, val_x, val_y, options)
    train(second, train_x, train_y, val_x, val_y, options)
    train(other, train_x, train_y, val_x, val_y, TrainOptions(epochs=2, batch_size=64, seed=1))
    weights = [m.state_dict() for m in (first, second, other)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_a_task_without_labels_keeps_its_head(data):
    (train_x, train_y), _ = data
    labels = {**train_y, "tags": np.full_like(train_y["tags"], np.nan)}
    model = make_model()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, train_x, labels, options=TrainOptions(epochs=1, batch_size=64))
    end = model.state_dict()
    assert all(torch.equal(start[k], end[k]) for k in start if k.startswith("heads.tags."))
    assert not torch.equal(start["heads.kind.class_vectors"], end["heads.kind.class_vectors"])


def test_training_heads_only_leaves_the_fusion_layers(data):
    (train_x, train_y), _ = data
    model = make_model()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, train_x, train_y, options=TrainOptions(epochs=1, trainable="heads"))
    end = model.state_dict()
    assert all(torch.equal(start[k], end[k]) for k in start if not k.startswith("heads."))
    assert not torch.equal(start["heads.kind.class_vectors"], end["heads.kind.class_vectors"])
    assert all(p.requires_grad for p in model.parameters())


def test_early_stopping_restores_the_best_epoch():
    train_x, train_y = synthetic(60, seed=3, noise_labels=True)  # nothing to learn: overfits
    val_x, val_y = synthetic(200, seed=4, noise_labels=True)
    model = make_model()
    options = TrainOptions(
        epochs=40, batch_size=16, learning_rate=1e-2, patience=2, monitor="kind:macro_f1"
    )
    history = train(
        model, train_x, {"kind": train_y["kind"]}, val_x, {"kind": val_y["kind"]}, options
    )
    assert history.stopped_early and len(history.epochs) == history.best_epoch + 2
    best = history.epochs[history.best_epoch - 1].val_metrics["kind"]["macro_f1"]
    assert history.best_value == best
    assert evaluate(model, val_x, {"kind": val_y["kind"]})["kind"]["macro_f1"] == best


def test_balanced_class_weights_lift_the_minority_recall():
    rng = np.random.default_rng(5)
    n = 600
    labels = (rng.random(n) < 0.1).astype(int)  # 10 % positives, overlapping with negatives
    values = rng.normal(size=(n, 1, D)).astype(np.float32)
    values[labels == 1, 0, 0] += 1.5
    inputs = {"a": ModalityTokens(values, np.ones((n, 1), bool), np.zeros((n, 1), np.float32))}
    recalls = []
    for balance in (False, True):
        torch.manual_seed(0)
        model = FusionModel(
            FusionConfig(
                modalities={"a": D},
                d_model=D,
                n_heads=2,
                n_layers=1,
                tasks=[TaskConfig("flag", classes=["no", "yes"])],
            )
        )
        options = TrainOptions(epochs=5, batch_size=64, balance_classes=balance)
        train(model, inputs, {"flag": labels}, options=options)
        recalls.append(evaluate(model, inputs, {"flag": labels})["flag"]["macro_recall"])
    assert recalls[1] > recalls[0]


def test_modality_dropout_never_hides_every_modality():
    n = 500
    generator = torch.Generator().manual_seed(0)
    present = torch.rand(n, 3, generator=generator) > 0.3
    batch = {
        name: ModalityTokens(torch.ones(n, 2, 4), present[:, [j]].repeat(1, 2), torch.zeros(n, 2))
        for j, name in enumerate(("a", "b", "c"))
    }
    dropped = drop_modalities(batch, 0.9, generator)
    after = torch.stack([m.mask.any(1) for m in dropped.values()], dim=1)
    assert not (after & ~present).any()  # nothing appears
    assert torch.equal(after.any(1), present.any(1))  # an item keeps at least one
    assert after.sum() < 0.5 * present.sum()  # yet most present modalities were hidden


def test_predict_gives_probabilities_and_ranged_values(data):
    _, (val_x, _) = data
    scores = predict(make_model(), val_x, batch_size=128)
    np.testing.assert_allclose(scores["kind"].sum(1), 1.0, rtol=1e-5)
    assert ((scores["tags"] > 0) & (scores["tags"] < 1)).all()
    assert scores["level"].shape == (300,) and (np.abs(scores["level"]) < 1).all()


def test_bad_labels_are_refused(data):
    (train_x, train_y), _ = data
    with pytest.raises(ValueError, match="class indices"):
        train(make_model(), train_x, {"kind": np.full(800, 3)})
    with pytest.raises(ValueError, match="labels for 800 items"):
        train(make_model(), train_x, {"kind": train_y["kind"][:10]})
    with pytest.raises(ValueError, match="no training labels"):
        train(make_model(), train_x, {"kind": np.full(800, -1)})
    with pytest.raises(ValueError, match="needs a validation split"):
        train(make_model(), train_x, train_y, options=TrainOptions(monitor="kind:accuracy"))


def test_metrics_on_known_predictions():
    y = np.array([0, 0, 1, 1, 2, -1])
    predicted = np.eye(3)[[0, 1, 1, 1, 0, 2]]
    metrics = classification_metrics(y, predicted, ["neg", "neu", "pos"])
    assert metrics["n"] == 5 and metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["macro_recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert metrics["f1_neu"] == pytest.approx(0.8) and metrics["f1_pos"] == 0
    assert metrics["confusion"].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    tags = multilabel_metrics(
        np.array([[1, 0], [0, 1], [np.nan, 1]]),
        np.array([[0.9, 0.2], [0.1, 0.4], [0.9, 0.9]]),
        ["p", "q"],
    )
    assert tags["n"] == 2 and tags["f1_p"] == 1 and tags["f1_q"] == 0
    values = regression_metrics(np.array([0.0, 1.0, np.nan, 2.0]), np.array([1.0, 3.0, 9.0, 5.0]))
    assert values["pearson"] == pytest.approx(1.0) and values["mae"] == pytest.approx(2.0)
