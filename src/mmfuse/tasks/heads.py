"""Heads trained on a finished run's rows: what screening and wildlife share.

``mmfuse train --labels LABELS.csv --data RUN --out HEAD`` reads the rows a run wrote to
``results.parquet`` (their arrays: a candidate's tokens, a photo's crop features), joins the
labels by id, holds out a stratified share for early stopping (``fusion.labels.holdout_mask``)
and trains a small fusion model (``mmfuse.fusion.train``) on the rest. Each task's ``training``
module builds its model and its inputs; the run then reads the head with ``--model``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.errors import UsageError
from mmfuse.fusion.train import TrainHistory, TrainOptions, train
from mmfuse.tasks.training import HEAD


@dataclass(frozen=True)
class HeadOptions:
    """How a head is trained (small data: many short epochs, small batches).

    ``learning_rate`` None is the task's own default; ``trainable`` is
    ``TrainOptions.trainable`` ("all", "decoder" or "heads"); ``device`` is where it trains
    (None: the CPU).
    """

    holdout: float = HEAD["holdout"]
    epochs: int = HEAD["epochs"]
    batch_size: int = HEAD["batch_size"]
    learning_rate: float | None = None
    patience: int = HEAD["patience"]
    seed: int = 0
    trainable: str = "all"
    device: str | None = None


def read_arrays(parquet: Path, columns: Sequence[str], scalars: Sequence[str] = ()) -> list[dict]:
    """id, error, the array ``columns`` and the ``scalars`` of every row of a run's
    ``results.parquet`` (arrays as float32 numpy arrays; a column the run lacks is None)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(parquet).names)
    wanted = [c for c in ("id", "error", *columns, *scalars) if c in names]
    records = pq.read_table(parquet, columns=wanted).to_pylist()
    for record in records:
        for column in columns:
            if record.get(column) is not None:
                record[column] = np.asarray(record[column], np.float32)
    return records


def labelled(
    records: Sequence[dict], labels: Mapping[str, str], has_input: Callable[[dict], bool]
) -> tuple[list[dict], list[str], int]:
    """The records with a label and an input, their labels, and how many labels found none."""
    by_id = {r["id"]: r for r in records if not r.get("error") and has_input(r)}
    kept = [i for i, value in labels.items() if value and i in by_id]
    unmatched = sum(1 for i, value in labels.items() if value and i not in by_id)
    return [by_id[i] for i in kept], [labels[i] for i in kept], unmatched


def fit(
    model,
    inputs_of: Callable[[np.ndarray], dict],
    y: np.ndarray,
    held: np.ndarray,
    options: HeadOptions,
    balance_classes: bool,
) -> TrainHistory:
    """Trains the model's one task on the items not ``held``, stopping early on the others.

    Args:
        model: the untrained head (its first task is trained).
        inputs_of: item indices -> the model's inputs for them.
        y: the targets of every item.
        held: bool [n], the items held out.
        options: see ``HeadOptions``.
        balance_classes: weigh classes by inverse frequency.
    """
    name = model.config.tasks[0].name
    fit_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    validation = (inputs_of(held_rows), {name: y[held_rows]}) if len(held_rows) else (None, None)
    return train(
        model,
        inputs_of(fit_rows),
        {name: y[fit_rows]},
        *validation,
        TrainOptions(
            epochs=options.epochs,
            batch_size=options.batch_size,
            learning_rate=options.learning_rate or HEAD["learning_rate"],
            patience=options.patience,
            balance_classes=balance_classes,
            trainable=options.trainable,
            seed=options.seed,
            device=options.device,
        ),
    )


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Share of the items whose best-scored class is theirs."""
    return round(float(np.mean(scores.argmax(axis=1) == y)), 4)


def head_config(folder: Path, head_format: str, kind: str):
    """The ``FusionConfig`` of a head saved in ``folder``, checked to be a ``kind`` head whose
    files are as ``mmfuse train`` wrote them (their SHA-256, ``fusion.model.verify_files``).

    Raises:
        UsageError: no model there, or a model of another format (not a ``kind`` head).
        ModelUnavailable: a file changed since training, or no record of its SHA-256.
    """
    from mmfuse.fusion.model import CONFIG_FILE, read_config, verify_files

    if not (folder / CONFIG_FILE).is_file():
        raise UsageError(f"--model {folder}: no {CONFIG_FILE} (train one with mmfuse train)")
    verify_files(folder)
    config = read_config(folder / CONFIG_FILE)
    if config.meta.get("format") != head_format:
        raise UsageError(
            f"--model {folder} is not a {kind} head (mmfuse train on a {kind} run makes one)"
        )
    return config


def require(count: int, least: int, what: str) -> None:
    """A usage error when fewer than ``least`` labelled items were found."""
    if count < least:
        raise UsageError(f"{count} {what} have a label; a head needs at least {least}")
