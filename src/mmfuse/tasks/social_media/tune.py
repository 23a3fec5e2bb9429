"""Fine-tuned layers of the sentence encoder, read as one more stacked token (``tuned``).

Frozen sentence embeddings carry what a text is about better than how its author meant it:
"on hold for two hours. Fantastic." sits near praise. Fine-tuning copies of the encoder's
layers on labelled posts teaches them to read tone (sarcasm, complaints in polite words),
while the frozen encoder keeps giving the sentence embedding every other part of mmfuse
reads. As in ULMFiT and BERT fine-tuning practice (Howard & Ruder 2018; Sun et al. 2019,
"How to fine-tune BERT for text classification"), a small learning rate with linear warm-up
and decay runs for one to three epochs. ``layers`` says how many of the top layers are
copied, up to all of them (``mmfuse-base`` v4: all six of MiniLM's, on the frozen word
embeddings; v2 and v3: the top two).

It stays cheap on a CPU because what lies below the copies runs once: those states are
computed once per training text (``TextEncoder.lower_states``) and every epoch trains only
the ``layers`` copies and one linear head per classification task on their mean-pooled
output. At inference the copies read the same forward pass the sentence embedding comes from
(``mmfuse.encoders.text.Readout``): ``layers`` more layers per text.

Its class probabilities become the ``tuned`` token of
``mmfuse.tasks.social_media.stack.TextStacks``, with
out-of-fold predictions for the training items (``fit_out_of_fold``), as the linear stacks have:
a model's reading of the items it was fitted on is overconfident, and the fusion model would
learn to trust it more than it deserves on unseen posts. The checkpoint keeps the fine-tuned
layers and heads only (``tuned.safetensors``, float16: 3.6 MB a MiniLM layer): a delta over
the packaged encoder, whose hash the registry checks.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mmfuse.encoders.text import Readout, run_layer

log = logging.getLogger(__name__)

MISSING = -1  # class index of an item not labelled for a task (as in mmfuse.fusion.metrics)
READ_BATCH = 256  # texts per forward pass when reading cached states
SORT_CHUNK = 50  # batches whose items are sorted by length together (less padding)


@dataclass(frozen=True)
class TuneOptions:
    """How the top layers are fine-tuned.

    Attributes:
        layers: top layers fine-tuned, up to all of them (the rest stay frozen).
        epochs: passes over the training items.
        batch_size: items per step.
        learning_rate: of the layers (AdamW, linear warm-up then linear decay to 0).
        head_learning_rate: of the freshly initialised heads.
        warmup: fraction of the steps spent warming up.
        dropout: on the pooled vector before the heads.
        upsample: times an epoch an item of a small task (labelled items under a quarter of
            the largest task's) is seen, so a 3,000-tweet task is not drowned by a 47,000 one.
        folds: folds of the out-of-fold predictions.
        seed: initialisation, batch order and folds.
    """

    layers: int = 2
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-4
    head_learning_rate: float = 2e-3
    warmup: float = 0.06
    dropout: float = 0.1
    upsample: int = 3
    folds: int = 2
    seed: int = 0


class TunedTop(nn.Module):
    """Copies of an encoder's top layers and one linear head per classification task on their
    mean-pooled output.

    Args:
        encoder: the ``TextEncoder`` whose top layers are copied (float32).
        classes: task -> class names, classification tasks only.
        layers: how many top layers (all of them: the copies read the word embeddings).
    """

    def __init__(self, encoder, classes: Mapping[str, list[str]], layers: int):
        super().__init__()
        total = len(encoder.layers)
        if not 0 < layers <= total:
            raise ValueError(f"layers must be between 1 and {total}, got {layers}")
        if getattr(encoder, "precision", "float32") == "int8":
            raise ValueError("fine-tuned layers need a float32 or bfloat16 encoder, not int8")
        self.split = total - layers
        self.classes = {task: list(names) for task, names in classes.items()}
        self.layers = copy.deepcopy(encoder.layers[self.split :]).float()
        hidden = encoder.model.config.hidden_size
        heads = {t: nn.Linear(hidden, len(c)) for t, c in self.classes.items()}
        self.heads = nn.ModuleDict(heads).to(encoder.device)  # where the copied layers are
        self.dropout = nn.Dropout(0.0)

    @property
    def width(self) -> int:
        """Outputs of the token: every task's class probabilities."""
        return sum(len(c) for c in self.classes.values())

    def pooled(self, states: torch.Tensor, layer_mask, mask: torch.Tensor) -> torch.Tensor:
        """[b, hidden] in the layers' dtype: their output states, mean-pooled over ``mask``."""
        states = states.to(self.heads[next(iter(self.classes))].weight.dtype)
        for layer in self.layers:
            states = run_layer(layer, states, layer_mask)
        keep = mask.unsqueeze(-1).to(states.dtype)
        return (states * keep).sum(1) / keep.sum(1).clamp(min=1)

    def forward(self, states: torch.Tensor, layer_mask, mask: torch.Tensor) -> dict:
        """Task -> logits [b, n_classes]."""
        pooled = self.dropout(self.pooled(states, layer_mask, mask))
        return {task: head(pooled) for task, head in self.heads.items()}

    def read(self, states: torch.Tensor, layer_mask, mask: torch.Tensor) -> torch.Tensor:
        """float32 [b, width]: every task's class probabilities, in ``classes`` order."""
        logits = self.forward(states, layer_mask, mask)
        return torch.cat([torch.softmax(logits[t].float(), -1) for t in self.classes], dim=1)

    def readout(self) -> Readout:
        """This model as a readout of the encoder's forward pass (inference)."""
        self.eval()
        return Readout(self.split, self.width, self.read)

    def digest(self) -> str:
        """SHA-256 of the weights: part of the feature cache's key."""
        sha = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            sha.update(name.encode())
            sha.update(tensor.detach().cpu().float().numpy().tobytes())
        return sha.hexdigest()


def _padded(encoder, states: Sequence[torch.Tensor], rows: np.ndarray):
    """Cached states of ``rows`` padded into one batch on the encoder's device: states, the
    layers' mask, bool mask."""
    longest = max(states[i].shape[0] for i in rows)
    batch = torch.zeros(len(rows), longest, states[rows[0]].shape[1])
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for row, i in enumerate(rows):
        batch[row, : states[i].shape[0]] = states[i].float()
        mask[row, : states[i].shape[0]] = 1
    batch, mask = batch.to(encoder.device), mask.to(encoder.device)
    return batch, encoder.layer_mask(mask, batch), mask.bool()


@torch.no_grad()
def predict_states(encoder, model: TunedTop, states: Sequence[torch.Tensor]) -> np.ndarray:
    """float32 [n, width]: the model's token for cached lower states."""
    model.eval()
    out = np.zeros((len(states), model.width), np.float32)
    order = np.argsort([s.shape[0] for s in states], kind="stable")
    for start in range(0, len(order), READ_BATCH):
        rows = order[start : start + READ_BATCH]
        out[rows] = model.read(*_padded(encoder, states, rows)).cpu().numpy()
    return out


def _class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Balanced class weights (n / (k * count)) of a task's labelled items."""
    counts = np.bincount(y[y != MISSING], minlength=n_classes).astype(np.float64)
    return torch.tensor(counts.sum() / (n_classes * np.maximum(counts, 1)), dtype=torch.float32)


def _epoch_order(
    states: Sequence[torch.Tensor], pool: np.ndarray, batch_size: int, rng
) -> list[np.ndarray]:
    """Batches of one epoch: shuffled, then sorted by length within chunks of batches."""
    pool = pool[rng.permutation(len(pool))]
    batches = []
    for start in range(0, len(pool), batch_size * SORT_CHUNK):
        chunk = pool[start : start + batch_size * SORT_CHUNK]
        chunk = chunk[np.argsort([states[i].shape[0] for i in chunk], kind="stable")]
        batches += [chunk[s : s + batch_size] for s in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit_tuned(
    encoder,
    states: Sequence[torch.Tensor],
    targets: Mapping[str, np.ndarray],
    classes: Mapping[str, list[str]],
    options: TuneOptions | None = None,
) -> TunedTop:
    """Fine-tunes copies of the encoder's top layers with a head per classification task.

    Args:
        encoder: the ``TextEncoder`` (float32).
        states: per item, the float16 [n_tokens, hidden] states below the tuned layers
            (``TextEncoder.lower_states(texts, len(encoder.layers) - options.layers)``).
        targets: task -> int [n] class indices, ``MISSING`` where an item is unlabelled.
        classes: task -> class names (classification tasks only).
        options: see ``TuneOptions``.
    """
    options = options or TuneOptions()
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model = TunedTop(encoder, classes, options.layers)
    model.dropout.p = options.dropout
    y = {t: np.asarray(targets[t], dtype=np.int64) for t in classes}
    labelled = np.stack([y[t] != MISSING for t in classes], axis=1)
    weights = {t: _class_weights(y[t], len(c)).to(encoder.device) for t, c in classes.items()}
    y = {t: torch.as_tensor(v, device=encoder.device) for t, v in y.items()}
    counts = labelled.sum(0)
    small = labelled[:, counts < counts.max() / 4].any(axis=1)
    pool = np.r_[
        np.flatnonzero(labelled.any(1)), np.repeat(np.flatnonzero(small), options.upsample - 1)
    ]
    steps = options.epochs * -(-len(pool) // options.batch_size)
    optimizer = torch.optim.AdamW(
        [
            {"params": model.layers.parameters(), "lr": options.learning_rate},
            {"params": model.heads.parameters(), "lr": options.head_learning_rate},
        ],
        weight_decay=0.01,
    )
    warmup = max(1, round(options.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, (steps - step) / max(1, steps - warmup))
    )
    model.train()
    for epoch in range(options.epochs):
        total, batches = 0.0, _epoch_order(states, pool, options.batch_size, rng)
        for rows in batches:
            logits = model(*_padded(encoder, states, rows))
            loss = torch.zeros((), device=encoder.device)
            for task, task_logits in logits.items():
                target = y[task][torch.as_tensor(rows, device=encoder.device)]
                keep = target != MISSING
                if keep.any():
                    loss = loss + nn.functional.cross_entropy(
                        task_logits[keep], target[keep], weight=weights[task]
                    )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        log.info("tuned layers, epoch %d: mean loss %.4f", epoch + 1, total / len(batches))
    with torch.no_grad():  # float16 precision, as saved: the fitted model reads as the saved one
        for tensor in model.state_dict().values():
            tensor.copy_(tensor.half().float())
    model.eval()
    return model


def fit_out_of_fold(
    encoder,
    states: Sequence[torch.Tensor],
    targets: Mapping[str, np.ndarray],
    classes: Mapping[str, list[str]],
    options: TuneOptions | None = None,
) -> np.ndarray:
    """float32 [n, width]: each item's token from a model fitted on the other folds."""
    options = options or TuneOptions()
    folds = np.random.default_rng(options.seed).permutation(len(states)) % options.folds
    out = np.zeros((len(states), sum(len(c) for c in classes.values())), np.float32)
    for fold in range(options.folds):
        train, held = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model = fit_tuned(
            encoder,
            [states[i] for i in train],
            {t: np.asarray(v)[train] for t, v in targets.items()},
            classes,
            options,
        )
        out[held] = predict_states(encoder, model, [states[i] for i in held])
    return out
