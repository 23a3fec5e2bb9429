"""The task interface every pipeline implements and the batch engines run.

A task is a class registered by name (``mmfuse.tasks.registry``) with a frozen options
dataclass (``Options``, fields made with ``mmfuse.tasks.options.option``): the command line's
flags, the config file's keys and the manifest's record come from it.

An engine calls, per run: ``setup()`` once per worker (loads models), ``decode(item)`` in a
worker pool (file IO only; raise ``InputError`` for a bad file), ``process(batch)`` on batches
of decoded items (model inference), and ``finish(rows, out_dir)`` once at the end for extra
outputs (summaries). ``report_sections(rows, out_dir, files)`` adds the task's charts and
pictures to the run's ``report.html`` (built from the rows alone, so ``mmfuse report OUT``
rebuilds it from a finished run's files). A row is a dict from column name to a scalar;
values that are numpy arrays (embeddings) go to Parquet only, never to CSV.

What the commands other than ``run`` need of a task is asked of its class, never of its name:
``default_model`` (``mmfuse models``), ``fit_head`` (``mmfuse train`` on a finished run's
folder), ``fit_items`` and ``load_model`` (``mmfuse train`` and ``mmfuse evaluate`` on labelled
items), ``example_input`` and ``example_options`` (the contract tests).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mmfuse.report.page import Section
from mmfuse.types import Item

# Share of a GPU's free memory that the default batch may fill (the rest is for the models'
# own workspace and the allocator's slack); an out-of-memory halves the batch and retries.
DEVICE_MEMORY_SHARE = 0.5


class Task(abc.ABC):
    """A pipeline: decode one item, process a batch of decoded items into one row per item.

    Args:
        options: an instance of ``Options`` (its defaults when None).
        items: the run's items (a task may pass their manifest columns through).
        device: "cpu", "cuda", "cuda:1"; None picks CUDA when present. Every model the task
            loads in ``setup`` goes there.

    Attributes:
        name: the task's name on the command line (``mmfuse run NAME``), set by the registry.
        Options: the task's frozen options dataclass.
        default_batch_size: items per ``process`` call on the CPU unless ``--batch-size``
            says otherwise.
        device_item_bytes: device memory one item of a batch may take at its peak (inputs,
            activations), which sizes the default batch on a GPU (``batch_size_for``).
        max_device_batch: the most items per ``process`` call on a GPU (decoded items wait
            in host memory, two batches of them).
        group_by: the grouping ``--group-by auto`` means for this task ("auto", "stem",
            "folder").
        columns: the output columns in order; ``id`` first and ``error`` last.
        default_model: the shipped fusion model (``mmfuse.fusion.model.CHECKPOINTS_DIR``) the
            task's ``--model`` means when not given; None for a task that runs none.
        trains: what ``mmfuse train`` fits for this task: "head" (``fit_head``, on a finished
            run's folder), "items" (``fit_items``, on labelled items) or "" (nothing).
        description: what ``mmfuse run NAME --help`` says first: the input it reads and the
            columns to read first (default: the module docstring's first line).
        examples: command lines shown at the end of ``mmfuse run NAME --help``.
    """

    name: ClassVar[str]
    Options: ClassVar[type]
    default_batch_size: ClassVar[int] = 8
    device_item_bytes: ClassVar[int] = 256 * 2**20
    max_device_batch: ClassVar[int] = 256
    group_by: ClassVar[str] = "auto"  # how ``--group-by auto`` groups a folder's files
    description: ClassVar[str] = ""
    examples: ClassVar[tuple[str, ...]] = ()
    columns: tuple[str, ...]
    default_model: ClassVar[str | None] = None
    trains: ClassVar[str] = ""

    def __init__(self, options=None, items: Sequence[Item] = (), device: str | None = None):
        self.options = options if options is not None else self.Options()
        self.device = device

    @classmethod
    def batch_size_for(cls, device: str) -> int:
        """Items per ``process`` call on ``device``: ``default_batch_size`` on the CPU; on a
        GPU as many as ``DEVICE_MEMORY_SHARE`` of its free memory holds at
        ``device_item_bytes`` each, at least the CPU's and at most ``max_device_batch``."""
        if not device.startswith("cuda"):
            return cls.default_batch_size
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        fits = int(free * DEVICE_MEMORY_SHARE) // cls.device_item_bytes
        return max(cls.default_batch_size, min(cls.max_device_batch, fits))

    def run_items(self, items: Sequence[Item]) -> Sequence[Item]:
        """The items as the run keys, logs and writes them: ``items`` unchanged by default
        (screening replaces ids that carry personal data; wildlife leaves out files that
        are not photos, videos or sound)."""
        return items

    def item_message(self, item: Item, message: str) -> str:
        """An error or a note about ``item`` as its row and the logs give it: ``message``
        unchanged by default (screening names a file by its kind, "CV (pdf)", never by its name,
        which is often the candidate's)."""
        return message

    @abc.abstractmethod
    def settings(self) -> dict:
        """Model ids, weight hashes, digests of the files options name: the run manifest's record
        and, with every option added by the runner, the cache key and the run's identity."""

    def setup(self) -> None:  # noqa: B027 (optional hook)
        """Loads models; called once in each worker or actor before ``process``."""

    @abc.abstractmethod
    def decode(self, item: Item) -> Any:
        """Reads the item's files into memory (picklable, bounded in size; no model calls)."""

    @abc.abstractmethod
    def process(self, batch: Sequence[tuple[Item, Any]]) -> list[dict]:
        """One row per (item, decoded) pair, in order; encoders run batched across items."""

    def complete(self, rows: Sequence[dict]) -> Sequence[dict]:
        """The final rows with the cells that depend on every row filled in (ranks); called
        once, before the tables are written. By default the rows as they are."""
        return rows

    def models_used(self, rows: Sequence[dict], named: Sequence[dict]) -> list[dict]:
        """The models that produced ``rows``, as the manifest and the report list them (each
        ``registry.model_record``): ``named``, every model the settings name, by default. A
        task that loads a model only for some inputs (a speech model for posts with audio)
        leaves out those that did not run and adds those its settings do not name."""
        return list(named)

    def finish(self, rows: Sequence[dict], out_dir: Path) -> list[Path]:
        """Writes extra outputs from the final rows (summaries, reports); returns their paths."""
        return []

    @classmethod
    def report_rows(cls, rows: Sequence[dict]) -> Sequence[dict]:
        """The rows as the report's table of all rows shows them (JSON cells made readable,
        scores rounded); the CSV and Parquet keep them whole. By default as they are."""
        return rows

    @classmethod
    def report_sections(
        cls, rows: Sequence[dict], out_dir: Path, files: Mapping[str, Sequence[Path]]
    ) -> list[Section]:
        """The task's own sections of ``report.html`` (the run, failures and rows come free).

        Args:
            rows: the run's final rows (from the journal, or read back by ``mmfuse report``).
            out_dir: the output folder, with the task's extra outputs (summaries, audits).
            files: item id -> its media files, for thumbnails; empty when unknown.
        """
        return []

    @classmethod
    def example_input(cls) -> tuple[str, bytes]:
        """A file name and its bytes that make one good item (the contract tests' input); by
        default a short post."""
        return "good.txt", b"Loving the new cafe near the station, great coffee and cake."

    @classmethod
    def example_model(cls, folder: Path) -> Any:
        """A valid ``--model`` other than the default (made in ``folder`` where it is a trained
        file), for the contract tests; None for a task without the option."""
        return None

    @classmethod
    def example_options(cls) -> dict[str, Any]:
        """Config-file values a run needs beyond the defaults, or the smallest models that keep
        a contract test fast; by default none."""
        return {}

    @classmethod
    def fit_head(
        cls,
        results: Path,
        manifest: Mapping[str, Any],
        labels: Mapping[str, str],
        options: Any,
        positive: str | None = None,
    ) -> tuple[Any, dict]:
        """A head trained on a finished run's rows (``trains == "head"``).

        Args:
            results: the run's ``results.parquet``.
            manifest: the run's manifest.
            labels: item id -> its label (empty: unlabelled).
            options: ``mmfuse.tasks.heads.HeadOptions``.
            positive: the favourable decision, where the labels are decisions.

        Returns:
            ``(model, record)``: the head (a ``FusionModel``) and what ``training.json`` says.
        """
        raise NotImplementedError(f"{cls.name} trains no head on its runs")

    @classmethod
    def fit_items(cls, options: Any) -> int:
        """Fits a model on labelled items (``trains == "items"``) as ``options`` say
        (``mmfuse.tasks.training.TrainOptions``), writes it to ``options.out`` and returns the
        exit code."""
        raise NotImplementedError(f"{cls.name} trains no model on labelled items")

    @classmethod
    def load_model(cls, name: str, device: str | None = None) -> Any:
        """A model ``fit_items`` wrote (or a shipped one, by name) with what turns items into
        its inputs: an object with ``model`` and ``featurizer`` (``decode_readable``,
        ``featurize``), as ``mmfuse evaluate`` reads it."""
        raise NotImplementedError(f"{cls.name} has no model to evaluate")
