"""A fusion model fitted to labelled items: many-shot training, few-shot and zero-shot heads.

A checkpoint is a folder holding the fusion model (``config.json`` + ``model.safetensors``,
``mmfuse.fusion.model``) and the featurizer that made its inputs (``featurizer.json`` + the
bag-of-words files, ``mmfuse.tasks.social_media.featurize``); ``Checkpoint.load`` reads both, so a
model
is always fed the tokens it was trained on.

- many-shot (``fit_many_shot``): a held-out part of each task's labelled items drives early
  stopping; the stacked linear models (``mmfuse.tasks.social_media.stack``) are fitted on the rest
  (out-of-fold tokens for them) and the fusion model learns to combine their tokens.
- few-shot (``fit_few_shot``): no gradient step; each class vector is the mean of k examples'
  pooled vectors blended with its description's embedding, the blend chosen by leave-one-out
  on the examples (``mmfuse.fusion.fewshot``).
- zero-shot (``zero_shot``): class vectors are the embeddings of "class: description".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmfuse.fusion.fewshot import class_vectors_from_examples, class_vectors_from_text
from mmfuse.fusion.labels import holdout_mask
from mmfuse.fusion.model import (
    FusionModel,
    TaskConfig,
    checkpoint_folder,
    create_model,
    load_model,
    save_model,
)
from mmfuse.fusion.train import EpochRecord, TrainHistory, TrainOptions, train
from mmfuse.registry import select_device
from mmfuse.tasks.social_media.featurize import Decoded, Featurizer
from mmfuse.tasks.social_media.tune import TuneOptions
from mmfuse.tasks.training import DEFAULT_BASE, ITEMS
from mmfuse.types import ModalityTokens

log = logging.getLogger(__name__)

BLEND_EARLY_STOP = 0.3  # share of the held-out items that stops a blended fusion model


@dataclass
class Checkpoint:
    """A fusion model and the featurizer whose tokens it reads."""

    model: FusionModel
    featurizer: Featurizer

    def save(self, folder: str | Path, dtype=None) -> Path:
        """Writes the model (float32, or ``dtype``) and the featurizer files into ``folder``."""
        import torch

        folder = save_model(self.model, folder, dtype or torch.float32)
        self.featurizer.save(folder)
        return folder

    @classmethod
    def load(
        cls, name_or_path: str | Path, device: str | None = None, **featurizer_kwargs
    ) -> Checkpoint:
        """A shipped checkpoint by name (e.g. "mmfuse-base") or a checkpoint folder.

        Args:
            name_or_path: the name or folder.
            device: where the fusion model and the featurizer's encoders run (None: CUDA
                when present).
            **featurizer_kwargs: ``text_encoder`` and ``cache`` for the featurizer.

        Raises:
            ModelUnavailable: neither a shipped name nor a folder with a model in it.
        """
        folder = checkpoint_folder(name_or_path)
        model = load_model(folder).to(select_device(device))
        return cls(model, Featurizer.load(folder, device=device, **featurizer_kwargs))


def task_configs(
    classes: Mapping[str, list[str]],
    descriptions: Mapping[str, Mapping[str, str]] | None = None,
    cosine: bool = True,
    value_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> list[TaskConfig]:
    """One task per entry: multiclass with its class descriptions ("" for none), or regression
    when its class list is empty (squashed into ``value_ranges[task]`` when given)."""
    descriptions, value_ranges = descriptions or {}, value_ranges or {}
    return [
        TaskConfig(
            name,
            kind="multiclass" if names else "regression",
            classes=list(names),
            descriptions={c: descriptions.get(name, {}).get(c, "") for c in names},
            cosine=cosine,
            value_range=value_ranges.get(name),
        )
        for name, names in classes.items()
    ]


def _encoder_of(featurizer: Featurizer) -> Callable[[list[str]], np.ndarray]:
    return lambda texts: featurizer.embed_texts(list(texts))


def set_zero_shot(model: FusionModel, featurizer: Featurizer) -> None:
    """Sets every cosine head's class vectors from its classes' descriptions."""
    for task in model.config.tasks:
        if task.kind != "regression" and task.cosine:
            prompts = {c: task.descriptions.get(c, "") for c in task.classes}
            vectors = class_vectors_from_text(prompts, _encoder_of(featurizer))
            model.set_class_vectors(task.name, vectors)


def zero_shot(
    featurizer: Featurizer,
    classes: Mapping[str, list[str]],
    descriptions: Mapping[str, Mapping[str, str]] | None = None,
    base: str = DEFAULT_BASE,
) -> Checkpoint:
    """An untrained (pass-through) model whose class vectors come from the descriptions."""
    model = create_model(
        base, modalities=featurizer.modalities, tasks=task_configs(classes, descriptions)
    )
    set_zero_shot(model, featurizer)
    return Checkpoint(model.eval(), featurizer)


def fit_few_shot(
    featurizer: Featurizer,
    decoded: Sequence[Decoded],
    labels: Mapping[str, np.ndarray],
    classes: Mapping[str, list[str]],
    k: int,
    descriptions: Mapping[str, Mapping[str, str]] | None = None,
    seed: int = 0,
    base: str = DEFAULT_BASE,
) -> Checkpoint:
    """A pass-through model whose class vectors are k examples per class, blended with text.

    Args:
        featurizer: makes the examples' tokens (no bag-of-words: it needs training).
        decoded: the labelled items.
        labels: task -> int [n] class index, ``MISSING`` where unlabelled.
        classes: task -> class names.
        k: examples per class (all of a class's examples when it has fewer).
        descriptions: task -> class -> description for the text prototypes.
        seed: which k examples are drawn.
        base: the named config of the untrained model.
    """
    checkpoint = zero_shot(featurizer, classes, descriptions, base)
    model, inputs = checkpoint.model, featurizer.featurize(decoded)
    for task in model.config.tasks:
        text_vectors = model.heads[task.name].class_vectors.detach().cpu().numpy()
        vectors = class_vectors_from_examples(
            model, task.name, inputs, labels[task.name], k, text_vectors, seed=seed
        )
        model.set_class_vectors(task.name, vectors)
    return checkpoint


def _subset(inputs: Mapping[str, ModalityTokens], rows: np.ndarray) -> dict[str, ModalityTokens]:
    return {
        n: ModalityTokens(m.tokens[rows], m.mask[rows], m.times[rows]) for n, m in inputs.items()
    }


@dataclass(frozen=True)
class FitOptions:
    """How ``fit_many_shot`` trains.

    Attributes:
        base: named config (untrained) the model is built from.
        model: ``FusionConfig`` fields overriding the base's (e.g. ``{"n_layers": 0}``).
        holdout: fraction of each task's labelled items held out for early stopping.
        stacks: fit the stacked linear models and feed their ``bow`` and ``embedding`` tokens.
        cosine: cosine heads (class vectors in the text space, set from the descriptions);
            else linear heads. Cosine heads learn poorly from modalities that start at zero
            (the stacked tokens): with them, linear heads train and score better.
        value_ranges: regression task -> (low, high) its output is squashed into.
        residual: classification tasks whose heads start from the mean of the stacked
            models' probabilities (``TaskConfig.prior``); needs ``stacks`` and linear heads.
        tune: fine-tune the text encoder's top layers as a third stack (``tuned``;
            ``mmfuse.tasks.social_media.tune``); needs ``stacks``. None: frozen encoder.
        prior_tokens: task -> the stacked tokens whose mean probabilities its residual head
            starts from; a task not named here starts from all of them.
        blend: train the fusion model on the held-out items only (blending), whose stacked
            tokens come from stacks that never saw them, as every item's do at inference;
            ``BLEND_EARLY_STOP`` of them drive early stopping. No out-of-fold fine-tuning is
            needed then (two fewer fine-tuning runs), and the fusion model does not learn
            from out-of-fold tokens weaker than the full stacks' (the fine-tuned layers' folds
            see half the items). Needs enough items: the fusion model sees ``holdout`` of
            them.
        train: the training loop's options (``balance_classes`` etc.).
        seed: holdout split.
    """

    base: str = DEFAULT_BASE
    model: Mapping[str, Any] = field(default_factory=dict)
    holdout: float = ITEMS["holdout"]
    stacks: bool = True
    cosine: bool = False
    value_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    residual: tuple[str, ...] = ()
    tune: TuneOptions | None = None
    prior_tokens: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    blend: bool = False
    train: TrainOptions = field(
        default_factory=lambda: TrainOptions(
            epochs=ITEMS["epochs"],
            batch_size=ITEMS["batch_size"],
            learning_rate=ITEMS["learning_rate"],
            patience=ITEMS["patience"],
            balance_classes=True,
        )
    )
    seed: int = 0


def fit_many_shot(
    featurizer: Featurizer,
    decoded: Sequence[Decoded],
    labels: Mapping[str, np.ndarray],
    classes: Mapping[str, list[str]],
    descriptions: Mapping[str, Mapping[str, str]] | None = None,
    options: FitOptions | None = None,
    progress: Callable[[EpochRecord], None] | None = None,
) -> tuple[Checkpoint, TrainHistory]:
    """Trains a multi-task fusion model on labelled items.

    Args:
        featurizer: makes the tokens; its stacked linear models are fitted here when
            ``options.stacks``.
        decoded: the items.
        labels: task -> int [n] class index (``MISSING`` where unlabelled), or float [n]
            values (NaN where unlabelled) for a regression task.
        classes: task -> class names (``[]`` for a regression task).
        descriptions: task -> class -> description (zero-shot start of the heads).
        options: see ``FitOptions``.
        progress: called with each epoch's record.

    Returns:
        The trained checkpoint (best epoch on the held-out items) and the training history.
    """
    options = options or FitOptions()
    held = holdout_mask(labels, options.holdout, options.seed)
    fit_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    stacked = None
    if options.stacks:
        texts = [d.text for d in decoded]
        fitted = featurizer.fit_stacks(
            [texts[i] for i in fit_rows],
            {t: np.asarray(v)[fit_rows] for t, v in labels.items()},
            classes,
            options.tune,
            out_of_fold=not options.blend,
        )
        stacked = {k: np.zeros((len(decoded), v.shape[1]), np.float32) for k, v in fitted.items()}
        unseen = featurizer.predict_stacks([texts[i] for i in held_rows])
        for name, values in fitted.items():
            stacked[name][fit_rows] = values
            stacked[name][held_rows] = unseen[name]
    inputs = featurizer.featurize(decoded, stacked)
    tasks = task_configs(classes, descriptions, options.cosine, options.value_ranges)
    for task in tasks:
        if task.name in options.residual:
            columns = featurizer.stacks.columns(task.name)
            tokens = options.prior_tokens.get(task.name, columns)
            task.prior = {k: v for k, v in columns.items() if k in tokens}
            task.__post_init__()  # checks the prior against the head
    torch.manual_seed(options.seed)  # the initial weights: the same seed trains the same model
    model = create_model(
        options.base, modalities=featurizer.modalities, tasks=tasks, **options.model
    )
    if options.cosine:
        set_zero_shot(model, featurizer)
    y = {t: np.asarray(v) for t, v in labels.items()}
    if options.blend:
        stop = holdout_mask(
            {t: v[held_rows] for t, v in y.items()}, BLEND_EARLY_STOP, options.seed + 1
        )
        fit_rows, held_rows = held_rows[~stop], held_rows[stop]
    history = train(
        model,
        _subset(inputs, fit_rows),
        {t: v[fit_rows] for t, v in y.items()},
        _subset(inputs, held_rows) if len(held_rows) else None,
        {t: v[held_rows] for t, v in y.items()} if len(held_rows) else None,
        options.train,
        progress,
    )
    log.info("best epoch %d of %d", history.best_epoch, len(history.epochs))
    return Checkpoint(model, featurizer), history
