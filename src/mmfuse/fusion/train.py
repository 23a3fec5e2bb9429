"""Many-shot training of a fusion model on cached encoder outputs.

API:
    ``train(model, train_inputs, train_labels, val_inputs, val_labels, options) -> TrainHistory``
    trains several task heads together. Inputs are ``dict[str, ModalityTokens]`` over all items
    (held in memory; a batch is an index into them). Labels are ``dict[task, np.ndarray]``, with
    a "missing" marker so each task's loss only sees the items labelled for it:

    - multiclass: int [n_items] class index, ``MISSING`` (-1) where unlabelled;
    - multilabel: float [n_items, n_classes] of 0/1, NaN (or -1) where unlabelled;
    - regression: float [n_items], NaN where unlabelled.

    Batched inference is ``mmfuse.fusion.inference``; the metrics, ``mmfuse.fusion.metrics``;
    fitting a checkpoint from items (stacks, hold-out, few-shot), ``mmfuse.tasks.social_media.fit``.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfuse.fusion.inference import INFER_BATCH, count_items, forward_all, take, to_tensors
from mmfuse.fusion.metrics import MISSING, task_metrics
from mmfuse.fusion.model import FusionModel
from mmfuse.types import ModalityTokens

log = logging.getLogger(__name__)

TRAINABLE = ("all", "decoder", "heads")


@dataclass(frozen=True)
class TrainOptions:
    """How to train.

    Attributes:
        epochs: most passes over the training items.
        batch_size: items per gradient step.
        learning_rate: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay, on the linear maps' weights only.
        modality_dropout: chance of hiding each present modality of an item in a training
            batch (never all of an item's modalities), so the model copes with missing ones.
        patience: epochs without improvement of ``monitor`` before stopping.
        monitor: "loss" (validation loss, lower is better) or "TASK:METRIC" with a metric of
            ``classification_metrics`` / ``regression_metrics`` (higher is better), e.g.
            "sentiment:macro_recall".
        task_weights: task -> weight of its loss in the sum (1 when absent).
        balance_classes: weigh classes by inverse frequency in the training labels.
        trainable: "all" (projections, encoder, decoder, heads), "decoder" (decoder and heads)
            or "heads".
        max_grad_norm: gradient clipping norm (0: none).
        seed: seed of torch, numpy and random; same seed, data and options, same weights on CPU.
        device: where to train; None keeps the model's device.
    """

    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    modality_dropout: float = 0.0
    patience: int = 4
    monitor: str = "loss"
    task_weights: Mapping[str, float] = field(default_factory=dict)
    balance_classes: bool = False
    trainable: str = "all"
    max_grad_norm: float = 1.0
    seed: int = 0
    device: str | None = None

    def __post_init__(self):
        if self.trainable not in TRAINABLE:
            raise ValueError(f"trainable '{self.trainable}' not in {TRAINABLE}")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout {self.modality_dropout} not in [0, 1)")
        if self.monitor != "loss" and ":" not in self.monitor:
            raise ValueError(f"monitor '{self.monitor}' is neither 'loss' nor 'TASK:METRIC'")


@dataclass
class EpochRecord:
    """One epoch: mean training loss, validation loss per task and in total, metrics."""

    epoch: int
    train_loss: float
    val_loss: float | None
    val_task_losses: dict[str, float]
    val_metrics: dict[str, dict]
    seconds: float


@dataclass
class TrainHistory:
    """The record of a training run; the model holds the weights of ``best_epoch``."""

    epochs: list[EpochRecord]
    best_epoch: int
    best_value: float
    monitor: str
    stopped_early: bool


def drop_modalities(
    batch: dict[str, ModalityTokens], p: float, generator: torch.Generator
) -> dict[str, ModalityTokens]:
    """Hides each item's present modalities with chance ``p``, keeping at least one per item.

    Args:
        batch: modality -> tensor tokens of one batch (masks bool [batch, n_tokens]).
        p: chance of hiding each present modality of each item.
        generator: the CPU random generator (seeded by ``train``).

    Returns:
        The batch with the hidden modalities' mask rows set to False (tokens untouched).
    """
    names = list(batch)
    present = torch.stack([batch[n].mask.any(dim=1) for n in names], dim=1)  # [batch, n_mod]
    draws = torch.rand(present.shape, generator=generator, device="cpu").to(present.device)
    dropped = present & (draws < p)
    emptied = present.any(dim=1) & ~(present & ~dropped).any(dim=1)
    keep = torch.where(present, draws, torch.full_like(draws, -1.0)).argmax(dim=1)
    rescue = F.one_hot(keep, len(names)).bool() & emptied[:, None]
    dropped &= ~rescue
    return {
        n: ModalityTokens(m.tokens, m.mask & ~dropped[:, j, None], m.times)
        for j, (n, m) in enumerate(batch.items())
    }


def _targets(model: FusionModel, labels: Mapping[str, np.ndarray], n_items: int, device) -> dict:
    """Per task: (target tensor, bool validity tensor of the same leading shape)."""
    out = {}
    for name, values in labels.items():
        task = model.task(name)
        values = np.asarray(values)
        if len(values) != n_items:
            raise ValueError(f"task '{name}': {len(values)} labels for {n_items} items")
        if task.kind == "multiclass":
            classes = values.astype(np.int64)
            top = len(task.classes) - 1
            if (
                classes.ndim != 1
                or classes.min(initial=0) < MISSING
                or classes.max(initial=0) > top
            ):
                raise ValueError(f"task '{name}': class indices must lie in {MISSING}..{top}")
            target, valid = torch.as_tensor(classes), torch.as_tensor(classes != MISSING)
        else:
            floats = values.astype(np.float32)
            shape = (n_items, len(task.classes)) if task.kind == "multilabel" else (n_items,)
            if floats.shape != shape:
                raise ValueError(f"task '{name}': labels of shape {floats.shape}, expected {shape}")
            target, valid = torch.as_tensor(floats), torch.as_tensor(~np.isnan(floats))
            if task.kind == "multilabel":
                valid &= target >= 0
            target = torch.where(valid, target, 0.0)  # NaN would poison gradients through masks
        out[name] = (target.to(device), valid.to(device))
    return out


def _class_weights(model: FusionModel, targets: dict, device) -> dict[str, Tensor]:
    """Inverse-frequency class weights ``n / (n_classes * count)`` (scikit-learn "balanced")."""
    weights = {}
    for name, (target, valid) in targets.items():
        task = model.task(name)
        if task.kind == "multiclass":
            counts = torch.bincount(target[valid], minlength=len(task.classes)).float()
            weights[name] = counts.sum() / (len(task.classes) * counts.clamp(min=1))
        elif task.kind == "multilabel":  # BCE pos_weight: negatives per positive
            positives = (target * valid).sum(dim=0)
            weights[name] = (valid.sum(dim=0) - positives) / positives.clamp(min=1)
    return {k: v.to(device) for k, v in weights.items()}


def task_loss(
    kind: str, logits: Tensor, scores: Tensor, target: Tensor, valid: Tensor, weight: Tensor | None
) -> Tensor:
    """Mean loss over the valid labels: cross-entropy, binary cross-entropy or squared error."""
    if kind == "multiclass":
        return F.cross_entropy(logits[valid], target[valid], weight=weight)
    if kind == "multilabel":
        losses = F.binary_cross_entropy_with_logits(
            logits, target, pos_weight=weight, reduction="none"
        )
        return losses[valid].mean()
    return F.mse_loss(scores[valid], target[valid])


def _batch_loss(model, output, targets, index, class_weights, task_weights) -> Tensor:
    total = torch.zeros((), device=index.device)
    for name, (target, valid) in targets.items():
        valid_here = valid[index]
        if not valid_here.any():
            continue
        loss = task_loss(
            model.task(name).kind,
            output.logits[name],
            output.scores[name],
            target[index],
            valid_here,
            class_weights.get(name),
        )
        total = total + task_weights.get(name, 1.0) * loss
    return total


def _set_trainable(model: FusionModel, trainable: str) -> list[nn.Parameter]:
    """Freezes what ``trainable`` excludes; returns the parameters left to train."""
    for p in model.parameters():
        p.requires_grad_(trainable == "all")
    if trainable != "all":
        parts = [model.heads] + ([model.decoder] if trainable == "decoder" else [])
        for part in parts:
            for p in part.parameters():
                p.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def _optimizer(model: FusionModel, params: list[nn.Parameter], options: TrainOptions):
    """AdamW with weight decay on linear maps' weights only (not biases, norms, vectors)."""
    linear = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    decay = [p for p in params if id(p) in linear]
    rest = [p for p in params if id(p) not in linear]
    groups = [
        {"params": decay, "weight_decay": options.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=options.learning_rate, foreach=True)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _validate(model, data, targets, class_weights, task_weights, labels, batch_size):
    """Validation loss (weighted sum over tasks), loss per task and metrics per task."""
    out = forward_all(model, data, batch_size)
    task_losses, metrics = {}, {}
    for name, (target, valid) in targets.items():
        if not valid.any():
            continue
        kind = model.task(name).kind
        loss = task_loss(
            kind, out["logits"][name], out["scores"][name], target, valid, class_weights.get(name)
        )
        task_losses[name] = float(loss)
        metrics[name] = task_metrics(
            model.task(name), labels[name], out["scores"][name].cpu().numpy()
        )
    total = sum(task_weights.get(name, 1.0) * loss for name, loss in task_losses.items())
    return float(total), task_losses, metrics


def _monitored(record: EpochRecord, monitor: str) -> float:
    """The monitored value, as a quantity to minimise."""
    if monitor == "loss":
        return record.val_loss if record.val_loss is not None else record.train_loss
    task, metric = monitor.split(":", 1)
    if task not in record.val_metrics or metric not in record.val_metrics[task]:
        raise ValueError(f"monitor '{monitor}': no such validation metric")
    return -float(record.val_metrics[task][metric])


def train(
    model: FusionModel,
    train_inputs: Mapping[str, ModalityTokens],
    train_labels: Mapping[str, np.ndarray],
    val_inputs: Mapping[str, ModalityTokens] | None = None,
    val_labels: Mapping[str, np.ndarray] | None = None,
    options: TrainOptions = TrainOptions(),
    progress: Callable[[EpochRecord], None] | None = None,
) -> TrainHistory:
    """Trains the model's tasks together; encoders are frozen upstream (inputs are cached).

    Each epoch shuffles the items, hides modalities at random (``modality_dropout``), sums the
    tasks' masked losses and takes AdamW steps; then the validation split is scored. Training
    stops after ``patience`` epochs without improvement and the best epoch's weights are
    restored. Without a validation split every epoch runs and the last weights stay.

    Args:
        model: the model to train, in place.
        train_inputs: modality -> tokens of all training items.
        train_labels: task -> labels (see the module docstring for the missing markers).
        val_inputs: the validation items, or None.
        val_labels: their labels.
        options: see ``TrainOptions``.
        progress: called with each epoch's record.

    Returns:
        The epochs' records and the best epoch.
    """
    _seed_everything(options.seed)
    device = torch.device(options.device) if options.device else model.type_embedding.device
    model.to(device)
    data = to_tensors(train_inputs, device)
    n_items = count_items(data)
    targets = _targets(model, train_labels, n_items, device)
    if not any(bool(valid.any()) for _, valid in targets.values()):
        raise ValueError("no training labels: every task's labels are missing")
    validation = None
    if val_inputs is not None and val_labels is not None:
        val_data = to_tensors(val_inputs, device)
        val_targets = _targets(model, val_labels, count_items(val_data), device)
        validation = (val_data, val_targets, {k: np.asarray(v) for k, v in val_labels.items()})
    elif options.monitor != "loss":
        raise ValueError(f"monitor '{options.monitor}' needs a validation split")
    class_weights = _class_weights(model, targets, device) if options.balance_classes else {}
    params = _set_trainable(model, options.trainable)
    optimizer = _optimizer(model, params, options)
    generator = torch.Generator().manual_seed(options.seed)

    records: list[EpochRecord] = []
    best_value, best_epoch, best_state, stale = float("inf"), 0, None, 0
    for epoch in range(1, options.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n_items, generator=generator).to(device)
        total, steps = 0.0, 0
        for start in range(0, n_items, options.batch_size):
            index = order[start : start + options.batch_size]
            batch = take(data, index)
            if options.modality_dropout:
                batch = drop_modalities(batch, options.modality_dropout, generator)
            loss = _batch_loss(
                model, model(batch), targets, index, class_weights, options.task_weights
            )
            if not loss.requires_grad:  # no item of this batch is labelled
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if options.max_grad_norm:
                nn.utils.clip_grad_norm_(params, options.max_grad_norm)
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        val_loss, val_task_losses, val_metrics = None, {}, {}
        if validation is not None:
            val_loss, val_task_losses, val_metrics = _validate(
                model,
                *validation[:2],
                class_weights,
                options.task_weights,
                validation[2],
                INFER_BATCH,
            )
        record = EpochRecord(
            epoch,
            total / max(steps, 1),
            val_loss,
            val_task_losses,
            val_metrics,
            time.perf_counter() - started,
        )
        records.append(record)
        log.info(
            "epoch %d: train loss %.4f, val loss %s (%.1f s)",
            epoch,
            record.train_loss,
            "-" if val_loss is None else f"{val_loss:.4f}",
            record.seconds,
        )
        if progress is not None:
            progress(record)
        value = _monitored(record, options.monitor)
        if value < best_value:
            best_value, best_epoch, stale = value, epoch, 0
            if validation is not None:
                best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if validation is not None and stale >= options.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    _set_trainable(model, "all")
    model.eval()
    stopped_early = len(records) < options.epochs
    if validation is None:
        best_epoch, best_value = len(records), _monitored(records[-1], options.monitor)
    best = best_value if options.monitor == "loss" else -best_value
    return TrainHistory(records, best_epoch, best, options.monitor, stopped_early)
