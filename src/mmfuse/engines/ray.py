"""The Ray engine: the local engine's stages as Ray Data ``map_batches`` over a cluster.

Two stages stream into each other: ``decode`` runs as stateless Ray tasks (CPU, file IO),
``process`` runs in a fixed pool of ``workers`` actors, each holding the task and calling
``task.setup()`` once (one model copy per actor; one GPU each with ``--device cuda``). Rows
travel back to the driver, which yields them as they finish; the runner has already taken
cached items out, so only misses reach the cluster. Both stages are the local engine's
functions (``decode_item``, ``process_batch``), so the table is the same. A systemic error
travels from either stage as data (a ``systemic`` column) and the driver raises it, so the
run stops with its one line rather than Ray's traceback.

Point it at a cluster with ``--ray-address auto`` (on a node of a cluster started with
``ray start``) or ``ray://head:10001``; every node needs mmfuse and the models installed,
and must see the input paths (a shared file system). Without an address a local Ray
instance is started for the run and stopped after it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmfuse.cache import decode_row, encode_row
from mmfuse.engines.local import decode_item, error_message, error_row, process_batch
from mmfuse.errors import SystemicError, UsageError
from mmfuse.tasks.base import Task
from mmfuse.types import Item

if TYPE_CHECKING:
    from mmfuse.engines.options import RunOptions

# CPUs a decode task asks for: decoding waits on IO, so two share a core. Differing from the
# actors' request also keeps Ray Data from fusing decode into the model actors.
DECODE_CPUS = 0.5


def item_to_json(item: Item) -> str:
    """An Item as JSON text (Ray blocks are Arrow tables: plain columns travel best)."""
    record = dataclasses.asdict(item)
    record["paths"] = [str(p) for p in item.paths]
    return json.dumps(record)


def item_from_json(text: str) -> Item:
    """The Item ``item_to_json`` wrote."""
    record = json.loads(text)
    record["paths"] = tuple(Path(p) for p in record["paths"])
    record["notes"] = tuple(record["notes"])
    return Item(**record)


def _decode_batch(batch: dict[str, Any], task: Task) -> dict[str, list]:
    """Ray task: decodes each item; the payload is pickled (it only travels inside the run).

    A systemic error comes back as data, never raised: Ray would print its own traceback and
    hand the driver an exception of its own. The actor passes it on, the driver raises it.
    """
    items, payloads, problems = [], [], []
    for text in batch["item"]:
        try:
            item, decoded, problem = decode_item(task, item_from_json(text))
        except SystemicError as error:
            return {"item": [text], "decoded": [b""], "error": [""], "systemic": [str(error)]}
        items.append(item_to_json(item))  # without the files left out, with their notes
        payloads.append(b"" if problem else pickle.dumps(decoded, protocol=5))
        problems.append(problem or "")
    return {"item": items, "decoded": payloads, "error": problems, "systemic": [""] * len(items)}


def _encoded(item_id: str, row: dict) -> tuple[str, bytes]:
    try:
        text, arrays = encode_row(row)
    except (TypeError, ValueError) as error:  # the task produced an unstorable value
        text, arrays = encode_row(error_row(Item(item_id), error_message(error)))
    return text, arrays or b""


class _ProcessActor:
    """Ray actor: holds the task with its models loaded and processes batches."""

    def __init__(self, task: Task):
        self.task = task
        if (task.device or "").startswith("cuda"):  # Ray shows the actor its share as cuda:0
            self.task.device = "cuda"
        self.task.setup()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        try:
            rows = self._rows(batch)
        except SystemicError as error:  # as data, like _decode_batch's
            return {"scalars": [""], "arrays": [b""], "systemic": [str(error)]}
        encoded = [_encoded(row["id"], row) for row in rows]
        return {
            "scalars": [t for t, _ in encoded],
            "arrays": [a for _, a in encoded],
            "systemic": [""] * len(encoded),
        }

    def _rows(self, batch: dict[str, Any]) -> list[dict]:
        rows, pairs = [], []
        columns = (batch["item"], batch["decoded"], batch["error"], batch["systemic"])
        for text, payload, problem, systemic in zip(*columns, strict=True):
            if systemic:
                raise SystemicError(str(systemic))
            item = item_from_json(text)
            if problem:
                rows.append(error_row(item, str(problem)))
            else:
                pairs.append((item, pickle.loads(payload)))
        if pairs:
            rows.extend(process_batch(self.task, pairs))
        return rows


def _start(options: RunOptions) -> bool:
    """Connects to Ray (the given cluster, or a new local instance); True if this started it."""
    import ray
    import ray.data  # configures its logger on import: quieten it after

    quiet_level = logging.DEBUG if options.verbose else logging.ERROR
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(quiet_level)
    if ray.is_initialized():
        return False
    local = options.ray_address is None and "RAY_ADDRESS" not in os.environ
    ray.init(
        address=options.ray_address,
        # Logical CPUs: one per actor and at least one left for the decode tasks.
        num_cpus=max(os.cpu_count() or 1, options.workers + 1) if local else None,
        include_dashboard=False,
        logging_level=logging.INFO if options.verbose else logging.ERROR,
        log_to_driver=options.verbose,
    )
    return True


def _gpus_per_actor(device: str | None, workers: int) -> float:
    """Each model actor's share of a GPU: the cluster's GPUs split between the actors, at most
    one each (four actors on one GPU get a quarter each), with ``--device cuda`` or no device
    given on a cluster that has GPUs (CUDA when present, as everywhere); 0 on the CPU."""
    import ray

    if device is not None and not device.startswith("cuda"):
        return 0
    total = ray.cluster_resources().get("GPU", 0)
    if device is not None and not total:
        raise UsageError(f"--device {device}: the Ray cluster has no GPU")
    return min(1.0, total / workers)


def run_ray(task: Task, items: Sequence[Item], options: RunOptions) -> Iterator[dict]:
    """Runs ``task`` over ``items`` on Ray; yields one row per item as it finishes.

    Args:
        task: the pipeline; it is pickled to the workers, so it must not hold loaded models
            before ``setup()``.
        items: the items to compute.
        options: ``workers`` model actors, ``batch_size`` items per batch, ``ray_address``,
            ``device`` (on CUDA the actors share the cluster's GPUs, at most one each).
    """
    import ray

    started = _start(options)
    gpus = _gpus_per_actor(task.device, options.workers)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = options.verbose
        context.print_on_execution_start = options.verbose
        blocks = max(1, math.ceil(len(items) / options.batch_size))
        dataset = (
            ray.data.from_items(
                [{"item": item_to_json(item)} for item in items], override_num_blocks=blocks
            )
            .map_batches(
                _decode_batch,
                fn_kwargs={"task": task},
                batch_size=None,  # one block (of about batch_size items) per decode task
                num_cpus=DECODE_CPUS,
            )
            .map_batches(
                _ProcessActor,
                fn_constructor_kwargs={"task": task},
                batch_size=options.batch_size,
                compute=ray.data.ActorPoolStrategy(size=options.workers),
                num_cpus=1,
                num_gpus=gpus,
            )
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            outputs = zip(batch["scalars"], batch["arrays"], batch["systemic"], strict=True)
            for text, arrays, systemic in outputs:
                if systemic:
                    raise SystemicError(str(systemic))
                yield decode_row(str(text), bytes(arrays) or None)
    finally:
        if started:
            ray.shutdown()
