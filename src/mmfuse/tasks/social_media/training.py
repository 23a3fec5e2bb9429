"""``mmfuse train`` on labelled items: the text tasks' models, many-shot, few-shot or zero-shot.

Many-shot: ``mmfuse train --labels LABELS.csv --data DIR_OR_MANIFEST --out MODEL_DIR`` trains
one head per task column of LABELS.csv (an ``id`` column joins the rows to the items; an empty
cell is a missing label), with early stopping on a held-out part of each task's items.

Few-shot, no gradient step: ``--shots K`` takes K labelled items per class (0: zero-shot from
the class descriptions alone); ``--examples DIR`` takes every file (or sub-folder) of
``DIR/<class>/`` as an example of that class for one task (``--task``). Class descriptions,
the zero-shot prompts "class: description", come from ``--descriptions FILE.json``
({"task": {"class": "description"}}); without it a class is described by its name.

The model folder holds ``config.json`` + ``model.safetensors`` (the fusion model),
``featurizer.json`` (+ bag-of-words files) and ``training.json`` (options, epochs, metrics on
the held-out items). Give it to ``mmfuse evaluate --model`` or ``mmfuse run social-media
--model``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from mmfuse import registry
from mmfuse.errors import UsageError
from mmfuse.fusion.inference import predict
from mmfuse.fusion.labels import decode_readable, holdout_mask, label_arrays, labelled_items
from mmfuse.fusion.metrics import task_metrics
from mmfuse.io.writers import write_json
from mmfuse.tasks.social_media.examples import example_items
from mmfuse.tasks.social_media.featurize import Featurizer, FeaturizerConfig
from mmfuse.tasks.social_media.fit import FitOptions, fit_few_shot, fit_many_shot, zero_shot
from mmfuse.tasks.social_media.tune import TuneOptions
from mmfuse.tasks.training import TRAINING_FILE, TrainOptions

log = logging.getLogger(__name__)


def read_descriptions(path: Path | None) -> dict[str, dict[str, str]]:
    """{"task": {"class": "description"}} from a JSON file (empty without one)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read descriptions {path}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UsageError(f'{path}: expected {{"task": {{"class": "description"}}}}')
    return {t: {str(c): str(d) for c, d in v.items()} for t, v in data.items()}


def fit_items(options: TrainOptions) -> int:
    """Fits a model on the labelled items ``options`` name and writes it to ``options.out``."""
    descriptions = read_descriptions(options.descriptions)
    many_shot = options.examples is None and options.shots is None
    featurizer = Featurizer(
        FeaturizerConfig(
            text_model=options.text_model,
            text=not many_shot or not options.stacks,
            image_model=options.image_model,
            speech_model=options.speech_model,
            every_s=options.every_s,
        ),
        device=options.device,
    )
    if options.examples is not None:
        if not options.examples.is_dir():
            raise UsageError(f"examples folder not found: {options.examples}")
        try:
            items, labels = example_items(options.examples, options.task)
        except ValueError as error:
            raise UsageError(str(error)) from None
    else:
        items, labels = labelled_items(
            options.labels, options.data, options.id_column, options.tasks
        )
    items, decoded = decode_readable(featurizer, items)
    y, classes = label_arrays(labels, [item.id for item in items])
    started = time.perf_counter()
    record: dict = {"items": len(items), "classes": classes}
    if not many_shot:
        k = options.shots if options.shots is not None else max(len(items), 1)
        if k == 0:
            checkpoint = zero_shot(featurizer, classes, descriptions, options.base)
        else:
            _warn_few_examples(y, classes, k)
            checkpoint = fit_few_shot(
                featurizer, decoded, y, classes, k, descriptions, options.seed, options.base
            )
        record["regime"] = "zero-shot" if k == 0 else f"few-shot, k={k}"
    else:
        fit = _fit_options(options)
        checkpoint, history = fit_many_shot(featurizer, decoded, y, classes, descriptions, fit)
        best = history.epochs[history.best_epoch - 1]
        record.update(
            regime="many-shot",
            options=asdict(fit),
            best_epoch=history.best_epoch,
            epochs=len(history.epochs),
            holdout_metrics=_plain(best.val_metrics),
        )
        record["zero_shot_holdout_metrics"] = _report_holdout(
            featurizer, decoded, y, classes, descriptions, fit, best.val_metrics
        )
    checkpoint.save(options.out)
    record["seconds"] = round(time.perf_counter() - started, 1)
    write_json(record, options.out / TRAINING_FILE)
    print(
        f"{record['regime']} model of {len(classes)} task(s) on {len(items)} items: {options.out}"
    )
    return 0


def _fit_options(options: TrainOptions) -> FitOptions:
    """How ``fit_many_shot`` trains, from the command's options (the items' defaults)."""
    fit = FitOptions(
        base=options.base,
        model={} if options.layers is None else {"n_layers": options.layers},
        holdout=options.regime("holdout", head=False),
        stacks=options.stacks,
        cosine=not options.stacks,
        tune=TuneOptions(options.tune_layers, options.tune_epochs, seed=options.seed)
        if options.tune_layers
        else None,
        seed=options.seed,
    )
    return replace(
        fit,
        train=replace(
            fit.train,
            **{n: options.regime(n, head=False) for n in ("epochs", "batch_size", "patience")},
            learning_rate=options.regime("learning_rate", head=False),
            seed=options.seed,
            device=registry.select_device(options.device),
        ),
    )


def _warn_few_examples(y: Mapping[str, np.ndarray], classes: Mapping[str, list], k: int) -> None:
    """Says which classes have fewer than ``k`` labelled examples (each uses what it has)."""
    for task, names in classes.items():
        counts = np.bincount(y[task][y[task] >= 0], minlength=len(names)) if names else []
        short = [f"{name} ({n})" for name, n in zip(names, counts, strict=True) if n < k]
        if short:
            log.warning("--shots %d: %s has fewer examples: %s", k, task, ", ".join(short))


def _headline(task_metrics: Mapping) -> tuple[str, float] | None:
    """The metric a task is judged by: macro-F1 for classes, Pearson r for values."""
    for name in ("macro_f1", "pearson"):
        if name in task_metrics:
            return name, float(task_metrics[name])
    return None


def _report_holdout(featurizer, decoded, y, classes, descriptions, options, trained) -> dict:
    """Prints each task's hold-out score next to a zero-shot model's on the same items, warns
    where training did worse, and returns the zero-shot metrics."""
    held = np.flatnonzero(holdout_mask(y, options.holdout, options.seed))
    if not len(held):
        return {}
    plain = Featurizer(replace(featurizer.config, text=True), device=featurizer.device)
    zero = zero_shot(plain, classes, descriptions, options.base)
    scores = predict(zero.model, plain.featurize([decoded[i] for i in held]))
    baseline = {
        task: task_metrics(zero.model.task(task), y[task][held], scores[task]) for task in classes
    }
    for task in classes:
        mine, theirs = _headline(trained.get(task, {})), _headline(baseline[task])
        if mine is None or theirs is None:
            continue
        print(f"{task}: hold-out {mine[0]} {mine[1]:.3f} (zero-shot: {theirs[1]:.3f})")
        if mine[1] < theirs[1]:
            log.warning(
                "%s: the trained model scores below zero-shot on the hold-out items; "
                "more labelled items (or --shots K) may serve better",
                task,
            )
    return _plain(baseline)


def _plain(metrics: Mapping[str, Mapping]) -> dict:
    """Metrics with arrays turned into lists (JSON-ready)."""
    return {
        task: {k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in m.items()}
        for task, m in metrics.items()
    }
