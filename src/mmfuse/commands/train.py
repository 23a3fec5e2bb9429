"""Train a fusion model on labelled items, or build one from a few examples without training.

Many-shot: ``mmfuse train --labels LABELS.csv --data DIR_OR_MANIFEST --out MODEL_DIR`` trains
one head per task column of LABELS.csv (an ``id`` column joins the rows to the items; an empty
cell is a missing label), with early stopping on a held-out part of each task's items.

Few-shot, no gradient step: ``--shots K`` takes K labelled items per class (0: zero-shot from
the class descriptions alone); ``--examples DIR`` takes every file (or sub-folder) of
``DIR/<class>/`` as an example of that class for one task (``--task``). Class descriptions,
the zero-shot prompts "class: description", come from ``--descriptions FILE.json``
({"task": {"class": "description"}}); without it a class is described by its name.

Screening head: ``mmfuse train --labels decisions.csv --data SCREENING_RUN --out HEAD``, where
``--data`` is the output folder of ``mmfuse run screening`` over past candidates and the labels
are their decisions (``id,decision``) or 1-5 ratings; ``mmfuse run screening --model HEAD``
uses it (``mmfuse.tasks.screening.training``). Species head: the same on the output folder of
``mmfuse run wildlife`` with the files' species (``id,species``), then ``mmfuse run wildlife
--model HEAD`` (``mmfuse.tasks.wildlife.training``); both through ``mmfuse.tasks.heads``.

The model folder holds ``config.json`` + ``model.safetensors`` (the fusion model),
``featurizer.json`` (+ bag-of-words files) and ``training.json`` (options, epochs, metrics on
the held-out items). Give it to ``mmfuse evaluate --model``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from mmfuse import registry
from mmfuse.errors import UsageError
from mmfuse.fusion.inference import predict
from mmfuse.fusion.labels import Labels, LabelsError, read_labels
from mmfuse.fusion.metrics import task_metrics
from mmfuse.fusion.model import save_model
from mmfuse.io.discover import discover, read_manifest
from mmfuse.io.writers import write_json
from mmfuse.runner import MANIFEST, RESULTS_PARQUET
from mmfuse.tasks.social_media.examples import example_items
from mmfuse.tasks.social_media.featurize import Decoded, Featurizer, FeaturizerConfig
from mmfuse.tasks.social_media.fit import (
    DEFAULT_BASE,
    FitOptions,
    fit_few_shot,
    fit_many_shot,
    holdout_mask,
    zero_shot,
)
from mmfuse.tasks.social_media.tune import TuneOptions
from mmfuse.types import Item

log = logging.getLogger(__name__)

TRAINING_FILE = "training.json"
MANY_SHOT_DEFAULTS = {
    "epochs": 40,
    "batch_size": 128,
    "learning_rate": 3e-4,  # 1e-3 left half of the seeds at chance on 600 tweets
    "patience": 5,
    "holdout": 0.15,
}
EXAMPLES_TASK = "label"  # task name of an --examples folder unless --task names it


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that name labelled items, shared with ``mmfuse evaluate``."""
    parser.add_argument("--labels", type=Path, help="CSV: an id column, one column per task")
    parser.add_argument(
        "--data",
        type=Path,
        help="folder, file or manifest of the items (default: the labels file as a manifest)",
    )
    parser.add_argument("--id-column", default="id", help="column of item ids (default: id)")
    parser.add_argument("--tasks", nargs="+", help="task columns to use (default: all)")
    parser.add_argument(
        "--device", help="device of the encoders and the model (default: CUDA when present)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a model in --out")
    few = parser.add_argument_group("few-shot (no training)")
    few.add_argument("--shots", type=int, help="K labelled examples per class (0: zero-shot)")
    few.add_argument("--examples", type=Path, help="folder of examples, DIR/<class>/<files>")
    few.add_argument("--task", default=EXAMPLES_TASK, help="task name for --examples")
    few.add_argument("--descriptions", type=Path, help='JSON {"task": {"class": "text"}}')
    many = parser.add_argument_group("many-shot training")
    many.add_argument("--base", default=DEFAULT_BASE, help="named fusion config to start from")
    many.add_argument("--epochs", type=int, help="most epochs (default: 40; a head: 300)")
    many.add_argument("--batch-size", type=int, help="(default: 128; a head: 16)")
    many.add_argument(
        "--learning-rate", type=float, help="(default: 0.0003; a screening head: 0.003)"
    )
    many.add_argument(
        "--patience", type=int, help="epochs without improvement (default: 5; a head: 30)"
    )
    many.add_argument(
        "--holdout",
        type=float,
        help="share held out for early stopping (default: 0.15; a head: 0.2)",
    )
    many.add_argument(
        "--layers", type=int, help="self-attention layers (default: the base config's)"
    )
    many.add_argument(
        "--no-stacks",
        action="store_true",
        help="no stacked linear models: the fusion model reads the text embedding itself",
    )
    many.add_argument(
        "--tune-layers",
        type=int,
        default=0,
        help="also fine-tune the text encoder's top N layers (a third stack; default: 0, frozen)",
    )
    many.add_argument(
        "--tune-epochs", type=int, default=2, help="epochs of the --tune-layers fine-tuning"
    )
    many.add_argument("--seed", type=int, default=0)
    head = parser.add_argument_group(
        "a head on a finished run (--data: the output folder of `mmfuse run screening` or "
        "`mmfuse run wildlife`; --labels: its ids and one column of decisions or species)"
    )
    head.add_argument(
        "--positive",
        help="screening: the favourable decision, when it is not hire, yes, advance, ...",
    )
    encoders = parser.add_argument_group("encoders")
    encoders.add_argument(
        "--text-model",
        default=registry.default_model("text"),
        help="sentence encoder, backend:name or backend:/path (default: %(default)s)",
    )
    encoders.add_argument(
        "--image-model",
        default="",
        help="image encoder for images and video frames (default: none)",
    )
    encoders.add_argument(
        "--speech-model",
        default="",
        help="speech encoder for audio and soundtracks (default: none)",
    )
    encoders.add_argument(
        "--every", type=float, default=2.0, help="seconds between sampled video frames"
    )


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


def labelled_items(args: argparse.Namespace) -> tuple[list[Item], Labels]:
    """The items that have a row in the labels file, in the labels file's order."""
    if args.labels is None:
        raise UsageError("--labels is required")
    try:
        labels = read_labels(args.labels, args.id_column, args.tasks)
    except LabelsError as error:
        raise UsageError(str(error)) from None
    source = args.data or args.labels
    if source.is_file() and source.suffix.lower() in (".csv", ".jsonl"):
        items = read_manifest(source, args.id_column)
    else:
        items = discover(source)
    by_id = {item.id: item for item in items}
    found = [by_id[i] for i in labels.ids if i in by_id]
    if not found:
        raise UsageError(f"no item of {source} has an id in {args.labels}")
    if len(found) < len(labels.ids):
        log.warning("%d labelled ids have no item in %s", len(labels.ids) - len(found), source)
    return found, labels


def decode_all(featurizer: Featurizer, items: Sequence[Item]) -> tuple[list[Item], list[Decoded]]:
    """Decodes items, leaving out (with a warning each) those whose files are bad."""
    kept, decoded = featurizer.decode_readable(items)
    if not kept:
        raise UsageError("no item could be read")
    return [items[i] for i in kept], decoded


def label_arrays(
    labels: Labels, ids: list[str], classes: Mapping[str, list[str]] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Class indices per task for ``ids`` and the class names (from the file unless given)."""
    classes = dict(classes) if classes else {t: labels.classes(t) for t in labels.tasks}
    for task in labels.tasks:
        if len(classes.get(task, [])) < 2:
            found = "no labels" if not classes.get(task) else "only one class"
            raise UsageError(f"task '{task}' has {found}; a classifier needs two or more")
    try:
        arrays = {t: labels.indices(t, classes[t], ids) for t in labels.tasks}
    except LabelsError as error:
        raise UsageError(str(error)) from None
    return arrays, {t: classes[t] for t in labels.tasks}


def _prepare_out(out: Path, overwrite: bool) -> None:
    if (out / "config.json").exists() and not overwrite:
        raise UsageError(f"{out} already holds a model; pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)


def run(args: argparse.Namespace) -> int:
    if args.data is not None and (args.data / MANIFEST).is_file():
        return train_head(args)
    for name, value in MANY_SHOT_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.shots is not None and args.shots < 0:
        raise UsageError("--shots must be 0 or more")
    if args.examples is not None and args.labels is not None:
        raise UsageError("give --labels or --examples, not both")
    if args.tune_layers and (args.no_stacks or args.examples is not None or args.shots is not None):
        raise UsageError("--tune-layers is many-shot training with the stacks")
    _prepare_out(args.out, args.overwrite)
    descriptions = read_descriptions(args.descriptions)
    many_shot = args.examples is None and args.shots is None
    featurizer = Featurizer(
        FeaturizerConfig(
            text_model=args.text_model,
            text=not many_shot or args.no_stacks,
            image_model=args.image_model,
            speech_model=args.speech_model,
            every_s=args.every,
        ),
        device=args.device,
    )
    if args.examples is not None:
        if not args.examples.is_dir():
            raise UsageError(f"examples folder not found: {args.examples}")
        try:
            items, labels = example_items(args.examples, args.task)
        except ValueError as error:
            raise UsageError(str(error)) from None
    else:
        items, labels = labelled_items(args)
    items, decoded = decode_all(featurizer, items)
    y, classes = label_arrays(labels, [item.id for item in items])
    started = time.perf_counter()
    record: dict = {"items": len(items), "classes": classes}
    if not many_shot:
        k = args.shots if args.shots is not None else max(len(items), 1)
        if k == 0:
            checkpoint = zero_shot(featurizer, classes, descriptions, args.base)
        else:
            _warn_few_examples(y, classes, k)
            checkpoint = fit_few_shot(
                featurizer, decoded, y, classes, k, descriptions, args.seed, args.base
            )
        record["regime"] = "zero-shot" if k == 0 else f"few-shot, k={k}"
    else:
        options = FitOptions(
            base=args.base,
            model={} if args.layers is None else {"n_layers": args.layers},
            holdout=args.holdout,
            stacks=not args.no_stacks,
            cosine=args.no_stacks,
            tune=TuneOptions(args.tune_layers, args.tune_epochs, seed=args.seed)
            if args.tune_layers
            else None,
            seed=args.seed,
        )
        options = replace(
            options,
            train=replace(
                options.train,
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                patience=args.patience,
                seed=args.seed,
                device=registry.select_device(args.device),
            ),
        )
        checkpoint, history = fit_many_shot(featurizer, decoded, y, classes, descriptions, options)
        best = history.epochs[history.best_epoch - 1]
        record.update(
            regime="many-shot",
            options=asdict(options),
            best_epoch=history.best_epoch,
            epochs=len(history.epochs),
            holdout_metrics=_plain(best.val_metrics),
        )
        record["zero_shot_holdout_metrics"] = _report_holdout(
            featurizer, decoded, y, classes, descriptions, options, best.val_metrics
        )
    checkpoint.save(args.out)
    record["seconds"] = round(time.perf_counter() - started, 1)
    write_json(record, args.out / TRAINING_FILE)
    print(f"{record['regime']} model of {len(classes)} task(s) on {len(items)} items: {args.out}")
    return 0


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


def _head_trainer(task: str | None):
    """The ``fit_from_run`` of a task whose runs a head is trained on, or None."""
    if task == "screening":
        from mmfuse.tasks.screening.training import fit_from_run
    elif task == "wildlife":
        from mmfuse.tasks.wildlife.training import fit_from_run
    else:
        return None
    return fit_from_run


def train_head(args: argparse.Namespace) -> int:
    """A head from a finished screening or wildlife run (``--data``) and its labels."""
    from mmfuse.tasks.heads import HeadOptions

    if args.labels is None:
        raise UsageError("--labels is required: a CSV of id and one label column")
    manifest = json.loads((args.data / MANIFEST).read_text(encoding="utf-8"))
    fit_from_run = _head_trainer(manifest.get("task"))
    if fit_from_run is None or not (args.data / RESULTS_PARQUET).is_file():
        raise UsageError(
            f"{args.data} is a run of {manifest.get('task')!r}; mmfuse train reads the "
            "output folder of a screening or wildlife run (other tasks train on their items)"
        )
    try:
        labels = read_labels(args.labels, args.id_column, args.tasks)
    except LabelsError as error:
        raise UsageError(str(error)) from None
    if len(labels.tasks) != 1:
        raise UsageError(
            f"a head learns one column; pick one with --tasks ({', '.join(labels.tasks)})"
        )
    (column,) = labels.tasks
    values = dict(zip(labels.ids, labels.tasks[column], strict=True))
    _prepare_out(args.out, args.overwrite)
    defaults = HeadOptions()
    options = HeadOptions(
        **{
            name: getattr(defaults, name) if getattr(args, name) is None else getattr(args, name)
            for name in MANY_SHOT_DEFAULTS
        },
        seed=args.seed,
        device=registry.select_device(args.device),
    )
    started = time.perf_counter()
    results = args.data / RESULTS_PARQUET
    model, record = fit_from_run(results, manifest, values, options, args.positive)
    if record.get("labels_without_a_row"):
        log.warning(
            "%d labelled ids have no usable row in %s", record["labels_without_a_row"], args.data
        )
    save_model(model, args.out)
    record.update(
        regime=f"{manifest['task']} head",
        labels=column,
        seconds=round(time.perf_counter() - started, 1),
    )
    write_json(record, args.out / TRAINING_FILE)
    comparison = record.get("held_out_comparison", {})
    if comparison.get("baseline") is not None:
        print(
            f"held-out {comparison['metric']}: head {comparison['head']}, "
            f"{comparison['baseline_name']} {comparison['baseline']} ({record['held_out']} items)"
        )
    print(
        f"{record['regime']} on {record['labelled']} labelled items ({column}), "
        f"{record['kept']}: {args.out}"
    )
    return 0
