"""What ``mmfuse train`` and ``mmfuse evaluate`` read, declared once: their options and the
training defaults of each regime.

Two regimes train: a fusion model on labelled items (``ITEMS``: the text tasks' recipe,
thousands of posts, large batches and few epochs) and a head on a finished run's rows
(``HEAD``: tens of candidates or photos, small batches and many short epochs). An option left
unset (None) takes its regime's default from these tables, which the ``--help`` lines quote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmfuse import registry
from mmfuse.errors import UsageError
from mmfuse.tasks.media import check_every, every_option
from mmfuse.tasks.options import option

# name -> (a fusion model on items, a head on a run)
REGIME_DEFAULTS = {
    "epochs": (40, 300),
    "batch_size": (128, 16),
    "learning_rate": (3e-4, 1e-3),  # items: 1e-3 left half of the seeds at chance on 600 tweets
    "patience": (5, 30),
    "holdout": (0.15, 0.2),
}
ITEMS = {name: values[0] for name, values in REGIME_DEFAULTS.items()}
HEAD = {name: values[1] for name, values in REGIME_DEFAULTS.items()}
DEFAULT_BASE = "fusion-small"  # named config many-shot and few-shot models start from
EXAMPLES_TASK = "label"  # task name of an --examples folder unless --task names it
TRAINING_FILE = "training.json"  # what a training wrote beside the model


def _regimes(name: str, what: str, head_note: str = "") -> str:
    items, head = REGIME_DEFAULTS[name]
    return f"{what} (default: {items:g}; a head: {head:g}{head_note})"


@dataclass(frozen=True)
class LabelledData:
    """The labelled items ``mmfuse train`` and ``mmfuse evaluate`` read."""

    labels: Path | None = option(None, "CSV: an id column, one column per task")
    data: Path | None = option(
        None, "folder, file or manifest of the items (default: the labels file as a manifest)"
    )
    id_column: str = option("id", "column of item ids")
    tasks: tuple[str, ...] = option((), "task columns to use (default: all)")
    device: str | None = option(
        None, "device of the encoders and the model (default: CUDA when present)"
    )


@dataclass(frozen=True)
class TrainOptions(LabelledData):
    """``mmfuse train``: many-shot training, few-shot or zero-shot class vectors, or a head on
    a finished run (``--data RUN``)."""

    out: Path = option(Path(), "model folder to write", required=True)
    overwrite: bool = option(False, "replace a model in --out")
    # few-shot (no training)
    shots: int | None = option(None, "K labelled examples per class (0: zero-shot)")
    examples: Path | None = option(None, "folder of examples, DIR/<class>/<files>")
    task: str = option(EXAMPLES_TASK, "task name for --examples")
    descriptions: Path | None = option(None, 'JSON {"task": {"class": "text"}}')
    # many-shot training and heads
    base: str = option(DEFAULT_BASE, "named fusion config to start from")
    epochs: int | None = option(None, _regimes("epochs", "most epochs"))
    batch_size: int | None = option(None, _regimes("batch_size", "items per step"))
    learning_rate: float | None = option(
        None, _regimes("learning_rate", "step size", ", a screening head's 0.003")
    )
    patience: int | None = option(None, _regimes("patience", "epochs without improvement"))
    holdout: float | None = option(None, _regimes("holdout", "share held out for early stopping"))
    layers: int | None = option(None, "self-attention layers (default: the base config's)")
    stacks: bool = option(
        True, "stacked linear models (--no-stacks: the fusion model reads the embedding itself)"
    )
    tune_layers: int = option(
        0, "also fine-tune the text encoder's top N layers, up to all (a third stack; 0: frozen)"
    )
    tune_epochs: int = option(2, "epochs of the --tune-layers fine-tuning")
    seed: int = option(0, "seed of the held-out split and the training")
    positive: str = option(
        "", "screening head: the favourable decision, when it is not hire, yes, advance, ..."
    )
    # encoders
    text_model: str = option(
        registry.default_model("text"), "sentence encoder, backend:name or backend:/path"
    )
    image_model: str = option("", "image encoder for images and video frames (default: none)")
    speech_model: str = option("", "speech encoder for audio and soundtracks (default: none)")
    every_s: float = every_option()

    def __post_init__(self):
        if self.shots is not None and self.shots < 0:
            raise UsageError("--shots must be 0 or more")
        if self.examples is not None and self.labels is not None:
            raise UsageError("give --labels or --examples, not both")
        if self.tune_layers < 0:
            raise UsageError("--tune-layers must be 0 or more")
        if self.tune_layers and (
            not self.stacks or self.examples is not None or self.shots is not None
        ):
            raise UsageError("--tune-layers is many-shot training with the stacks")
        if self.holdout is not None and not 0 <= self.holdout < 1:
            raise UsageError(f"--holdout must be at least 0 and below 1, not {self.holdout}")
        check_every(self.every_s)

    def regime(self, name: str, head: bool) -> float | int:
        """The option ``name`` (epochs, batch_size, ...) as given, else its regime's default."""
        value = getattr(self, name)
        return (HEAD if head else ITEMS)[name] if value is None else value


@dataclass(frozen=True)
class EvaluateOptions(LabelledData):
    """``mmfuse evaluate``: a model scored on labelled items."""

    model: str = option(
        "", "model folder or shipped name (default: the task's shipped model, mmfuse-base)"
    )
    out: Path = option(Path("evaluation"), "report folder")
