"""Train a fusion model on labelled items, or a head on a finished run's rows.

On labelled items (``--labels LABELS.csv --data DIR_OR_MANIFEST --out MODEL_DIR``, or
``--shots K``, or ``--examples DIR``): the model of the task that trains on items (its
``fit_items``; for social media, ``mmfuse.tasks.social_media.training``).

On a finished run (``--data`` is the output folder of ``mmfuse run TASK``, ``--labels`` its ids
and one column of labels, e.g. ``id,decision`` for screening or ``id,species`` for wildlife):
a head of that task (its ``fit_head``), which ``mmfuse run TASK --model HEAD`` reads.

Every flag is an option of ``mmfuse.tasks.training.TrainOptions``, and ``--config FILE`` (TOML)
sets any of them (flags given override it). ``training.json`` beside the model records the
options, epochs and the metrics on the held-out items; ``mmfuse evaluate --model`` scores it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from mmfuse import registry
from mmfuse.commands.arguments import add_option_arguments, given
from mmfuse.errors import UsageError
from mmfuse.fusion.labels import LabelsError, read_labels
from mmfuse.fusion.model import save_model
from mmfuse.io.writers import write_json
from mmfuse.runner import MANIFEST, RESULTS_PARQUET
from mmfuse.tasks.base import Task
from mmfuse.tasks.heads import HeadOptions
from mmfuse.tasks.options import read_config, resolve, unknown_keys
from mmfuse.tasks.registry import get_task, task_names
from mmfuse.tasks.training import REGIME_DEFAULTS, TRAINING_FILE, TrainOptions

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="a TOML file of options (flags given here override it)"
    )
    add_option_arguments(parser.add_argument_group("training"), TrainOptions)


def options_from(args: argparse.Namespace, cls: type) -> object:
    """The options of ``cls``: defaults < ``--config`` < flags."""
    keys = read_config(args.config) if args.config else {}
    if unknown := unknown_keys(keys, cls):
        raise UsageError(f"{args.config}: unknown option(s) {', '.join(unknown)}")
    return resolve(cls, keys, given(args, cls))


def trainers(kind: str) -> list[type[Task]]:
    """The registered tasks that ``mmfuse train`` fits ``kind`` ("head", "items") for."""
    return [task for task in map(get_task, task_names()) if task.trains == kind]


def _prepare_out(out: Path, overwrite: bool) -> None:
    if (out / "config.json").exists() and not overwrite:
        raise UsageError(f"{out} already holds a model; pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)


def run(args: argparse.Namespace) -> int:
    options = options_from(args, TrainOptions)
    if options.data is not None and (options.data / MANIFEST).is_file():
        return train_head(options)
    (task, *_) = trainers("items") or [None]
    if task is None:
        raise UsageError("no task trains a model on labelled items")
    _prepare_out(options.out, options.overwrite)
    return task.fit_items(options)


def train_head(options: TrainOptions) -> int:
    """A head from a finished run (``--data``) and its labels, by the run's task."""
    manifest = json.loads((options.data / MANIFEST).read_text(encoding="utf-8"))
    name = manifest.get("task")
    task = get_task(name) if name in task_names() else None
    if task is None or task.trains != "head" or not (options.data / RESULTS_PARQUET).is_file():
        runs = " or ".join(t.name for t in trainers("head"))
        raise UsageError(
            f"{options.data} is a run of {name!r}; mmfuse train reads the output folder of a "
            f"{runs} run (other tasks train on their items)"
        )
    if options.labels is None:
        raise UsageError("--labels is required: a CSV of id and one label column")
    try:
        labels = read_labels(options.labels, options.id_column, list(options.tasks) or None)
    except LabelsError as error:
        raise UsageError(str(error)) from None
    if len(labels.tasks) != 1:
        raise UsageError(
            f"a head learns one column; pick one with --tasks ({', '.join(labels.tasks)})"
        )
    (column,) = labels.tasks
    values = dict(zip(labels.ids, labels.tasks[column], strict=True))
    _prepare_out(options.out, options.overwrite)
    defaults = HeadOptions()  # learning_rate None: the task's own
    head = HeadOptions(
        **{
            name: getattr(defaults, name)
            if getattr(options, name) is None
            else getattr(options, name)
            for name in REGIME_DEFAULTS
        },
        seed=options.seed,
        device=registry.select_device(options.device),
    )
    started = time.perf_counter()
    results = options.data / RESULTS_PARQUET
    model, record = task.fit_head(results, manifest, values, head, options.positive or None)
    if record.get("labels_without_a_row"):
        log.warning(
            "%d labelled ids have no usable row in %s", record["labels_without_a_row"], options.data
        )
    save_model(model, options.out)
    record.update(
        regime=f"{manifest['task']} head",
        labels=column,
        seconds=round(time.perf_counter() - started, 1),
    )
    write_json(record, options.out / TRAINING_FILE)
    comparison = record.get("held_out_comparison", {})
    if comparison.get("baseline") is not None:
        print(
            f"held-out {comparison['metric']}: head {comparison['head']}, "
            f"{comparison['baseline_name']} {comparison['baseline']} ({record['held_out']} items)"
        )
    print(
        f"{record['regime']} on {record['labelled']} labelled items ({column}), "
        f"{record['kept']}: {options.out}"
    )
    return 0


# ``mmfuse train --help``: the text (the module docstring is for developers) and examples.
DESCRIPTION = """Train a model on your labelled items (many-shot), or build one from a few examples.

LABELS.csv has an id column and one column per task (sentiment, emotion, your own classes);
an empty cell is a missing label. Without --data it is itself the manifest (a text column);
with --data, the items are that folder or manifest. --shots K takes K labelled items per
class without training; --examples DIR takes DIR/<class>/<files> as examples of one task
(--task). Class descriptions for zero-shot come from --descriptions FILE.json.

With --data the output folder of a screening run and the past decisions as labels (id,decision
or id,rating), it trains a screening head; with a wildlife run's folder and the files' species
(id,species), a species head. Use the model with --model in mmfuse run, or mmfuse evaluate."""

EXAMPLES = """
mmfuse train --labels labels.csv --out my-model                 # id,text,sentiment,emotion
mmfuse train --labels labels.csv --tune-layers 2 --out my-tuned # also fine-tunes 2 layers
mmfuse train --labels labels.csv --shots 20 --out my-fewshot    # 20 per class, no training
mmfuse train --examples examples/ --task intent --out my-intent # examples/<class>/<files>
mmfuse train --labels decisions.csv --data out/past --out my-head   # a screening head
"""
