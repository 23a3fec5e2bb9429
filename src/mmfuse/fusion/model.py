"""The fusion transformer: per-modality projections, a self-attention encoder over all modalities,
one decoder query per task, and task heads; its config, factory and safetensors checkpoints.

API:
    ``create_model(name_or_path, **overrides)`` builds an untrained model from a named config in
    ``mmfuse/model_configs/`` (``list_models()``) or loads a checkpoint (a shipped one in
    ``mmfuse/checkpoints/``, or a folder). ``model(inputs)`` takes ``dict[str, ModalityTokens]``
    and returns a ``FusionOutput``; ``save_model`` / ``load_model`` write and read a folder of
    ``config.json`` + ``model.safetensors``. Training is in ``mmfuse.fusion.train``, batched
    inference and explanation columns in ``mmfuse.fusion.inference``, zero- and few-shot class
    vectors in ``mmfuse.fusion.fewshot``.

Pass-through at init: projections of modalities whose dimension equals ``d_model`` start as the
identity (others at zero), type embeddings and the timestamp map start at zero, residual branches
at zero, task queries at zero (uniform attention) and the decoder's value path as the identity.
So an untrained model pools, per task, the mean of the present input embeddings, and a cosine
head whose class vectors are text embeddings of the class descriptions is a zero-shot classifier.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mmfuse.cache import file_sha256
from mmfuse.errors import ModelUnavailable
from mmfuse.fusion.heads import KINDS, CosineClassifier, build_head
from mmfuse.fusion.layers import EncoderLayer, TaskDecoder, identity_, sinusoidal_encoding, zero_
from mmfuse.types import ModalityTokens

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONFIGS_DIR = PACKAGE_DIR / "model_configs"  # named untrained configs, <name>.json
CHECKPOINTS_DIR = PACKAGE_DIR / "checkpoints"  # shipped trained models, <name>/
# The licence of the shipped models (their training data and its terms: MODEL_CARD.md).
SHIPPED_LICENCE = "Apache-2.0 (data: see MODEL_CARD.md)"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# {file name: SHA-256} of the two files above as save_model wrote them; a head is checked
# against it before use (mmfuse.tasks.heads), so a damaged or edited head is refused.
CHECKSUMS_FILE = "sha256.json"
# Pickle-based weight files: read with torch.load(weights_only=True), which refuses code.
PICKLED_WEIGHTS = ("model.pt", "model.bin", "pytorch_model.bin")
FORMAT = "mmfuse-fusion"
FORMAT_VERSION = 1
# Initial scale of cosine logits, 1/0.07 as CLIP's initial temperature (Radford et al. 2021).
INIT_SCALE = 1 / 0.07
# Sin/cos features of a token's timestamp; a zero-initialised linear map lifts them to d_model.
TIME_FEATURES = 64
# Floor of a prior probability before its log: a stack's 0 must not give an infinite logit.
PRIOR_FLOOR = 1e-4


@dataclass
class TaskConfig:
    """One output of the model.

    Attributes:
        name: identifier, the prefix of its output columns (e.g. "sentiment"); no dots.
        kind: "multiclass" (one class per item), "multilabel" or "regression".
        classes: class names in logit order (empty for regression).
        descriptions: class name -> text description, the zero-shot prompt "name: description".
        cosine: cosine classifier with class vectors in the embedding space (else linear).
        value_range: (low, high) a regression output is squashed into; None for unbounded.
        prior: residual head: modality -> [start, stop) columns of its (single) token that
            hold this task's class probabilities (the stacked models' predictions). The
            logits are ``log(mean of the present modalities' probabilities)`` plus the head's
            output, which starts at zero, so training learns a correction to the stacks'
            mean; an item without any of these modalities gets the head's output alone.
            Empty: a plain head.
        calibration: a multiclass head's logits become ``logits / temperature + bias``
            (``{"temperature": T, "bias": [one per class]}``), fitted after training so that
            its probabilities match how often each class occurs where the model is used (the
            sarcasm head of ``mmfuse-base`` is fitted on data with a few per cent sarcasm, not
            the half of a balanced training set). Empty: the logits as trained.
    """

    name: str
    kind: str = "multiclass"
    classes: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)
    cosine: bool = True
    value_range: tuple[float, float] | None = None
    prior: dict[str, list[int]] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.name or "." in self.name:
            raise ValueError(f"task name '{self.name}' must be non-empty and without dots")
        if self.kind not in KINDS:
            raise ValueError(f"task '{self.name}': kind '{self.kind}' not in {KINDS}")
        if self.kind != "regression" and not self.classes:
            raise ValueError(f"task '{self.name}': a {self.kind} task needs class names")
        if self.value_range is not None:
            self.value_range = (float(self.value_range[0]), float(self.value_range[1]))
        if self.prior and (self.kind != "multiclass" or self.cosine):
            raise ValueError(f"task '{self.name}': a prior needs a linear multiclass head")
        for modality, (start, stop) in self.prior.items():
            if stop - start != len(self.classes):
                raise ValueError(
                    f"task '{self.name}': prior columns [{start}, {stop}) of '{modality}' "
                    f"do not match its {len(self.classes)} classes"
                )
        if self.calibration:
            bias = self.calibration.get("bias", [])
            if self.kind != "multiclass" or len(bias) != len(self.classes):
                raise ValueError(
                    f"task '{self.name}': a calibration needs a multiclass head and one bias "
                    "per class"
                )
            if not float(self.calibration.get("temperature", 0)) > 0:
                raise ValueError(f"task '{self.name}': calibration temperature must be > 0")


def _check_alias(modalities: Mapping[str, int], alias: str, target: str) -> None:
    if target not in modalities or alias in modalities:
        raise ValueError(f"alias '{alias}' -> '{target}' must name a new and an existing modality")


@dataclass
class FusionConfig:
    """Architecture, inputs and tasks of a fusion model; saved as ``config.json``.

    Attributes:
        modalities: modality name -> input embedding size, in token order
            (e.g. {"text": 384, "lexical": 24, "voice": 512}).
        tasks: the outputs, in order.
        d_model: width of the fusion transformer; 384 is the shared text space of MiniLM.
        n_layers: self-attention encoder layers.
        n_heads: attention heads (must divide ``d_model``).
        d_ff: hidden size of the encoder's feed-forward branches.
        d_task_ff: hidden size of each task's refining branch after pooling (0: none).
        dropout: dropout rate in training (attention, residual branches).
        init_scale: initial scale of cosine-classifier logits.
        aliases: modality -> a modality in ``modalities`` whose projection and type embedding
            it reads through, e.g. {"speech": "text"}: a transcript embedded by the sentence
            encoder is text, so a model trained on text reads it without new weights, while
            the attention shares still tell the two apart. Aliases may be added after training.
        meta: free provenance (encoder ids, training data, metrics), saved untouched.
    """

    modalities: dict[str, int]
    tasks: list[TaskConfig] = field(default_factory=list)
    d_model: int = 384
    n_layers: int = 2
    n_heads: int = 6
    d_ff: int = 768
    d_task_ff: int = 128
    dropout: float = 0.1
    init_scale: float = INIT_SCALE
    aliases: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.tasks = [t if isinstance(t, TaskConfig) else TaskConfig(**t) for t in self.tasks]
        if not self.modalities:
            raise ValueError("a fusion model needs at least one modality")
        for alias, target in self.aliases.items():
            _check_alias(self.modalities, alias, target)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads {self.n_heads} does not divide d_model {self.d_model}")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate task names in {names}")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> FusionConfig:
        """The config from a dict, refusing unknown keys (a typo is an error, not a default)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fusion config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class FusionOutput:
    """What the model returns for a batch; every dict is keyed by task name.

    Attributes:
        logits: float32 [batch, n_classes] (classification) or [batch] (regression).
        scores: probabilities [batch, n_classes] or regression values [batch].
        pooled: float32 [batch, d_model], the task's pooled vector.
        shares: float32 [batch, n_modalities] in config order: the share of each modality in the
            task query's attention (summed over its tokens, averaged over heads). Rows sum to 1;
            0 for a modality an item lacks; all 0 for an item with no token at all.
    """

    logits: dict[str, Tensor]
    scores: dict[str, Tensor]
    pooled: dict[str, Tensor]
    shares: dict[str, Tensor]


def _tensor(value: np.ndarray | Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.as_tensor(value).to(device=device, dtype=dtype)


class FusionModel(nn.Module):
    """Fuses token sequences of several modalities and answers several tasks at once."""

    def __init__(self, config: FusionConfig):
        super().__init__()
        self.config = copy.deepcopy(config)  # add_task / set_class_vectors edit it
        config = self.config
        d_model = config.d_model
        self.projections = nn.ModuleDict()
        for name, dim in config.modalities.items():
            linear = nn.Linear(dim, d_model)
            self.projections[name] = identity_(linear) if dim == d_model else zero_(linear)
        self.type_embedding = nn.Parameter(torch.zeros(len(config.modalities), d_model))
        self.time_map = zero_(nn.Linear(TIME_FEATURES, d_model, bias=False))
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, config.n_heads, config.d_ff, config.dropout)
            for _ in range(config.n_layers)
        )
        self.decoder = TaskDecoder(d_model, config.n_heads, config.d_task_ff, config.dropout)
        self.heads = nn.ModuleDict()
        for task in config.tasks:
            self._build_task(task)

    @property
    def modalities(self) -> list[str]:
        """Modality names in token (and ``shares`` column) order; aliases last."""
        return [*self.config.modalities, *self.config.aliases]

    def add_alias(self, alias: str, target: str) -> None:
        """Lets the model read ``alias`` tokens as ``target`` ones (``FusionConfig.aliases``)."""
        _check_alias(self.config.modalities, alias, target)
        self.config.aliases[alias] = target

    @property
    def tasks(self) -> list[str]:
        """Task names in output order."""
        return [t.name for t in self.config.tasks]

    def task(self, name: str) -> TaskConfig:
        """The config of one task; KeyError names the known tasks."""
        for task in self.config.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task '{name}' in the model (tasks: {', '.join(self.tasks)})")

    def _build_task(self, task: TaskConfig) -> None:
        device = self.type_embedding.device
        self.decoder.add_task(task.name)
        self.heads[task.name] = build_head(
            task.kind,
            self.config.d_model,
            len(task.classes),
            task.cosine,
            self.config.init_scale,
            task.value_range,
        )
        if task.prior:  # a residual head starts at the prior: its correction is zero
            zero_(self.heads[task.name].linear)
        self.decoder.to(device)
        self.heads.to(device)

    def add_task(self, task: TaskConfig) -> None:
        """Adds an output (its query pools uniformly until trained; its head is fresh)."""
        if task.name in self.tasks:
            raise ValueError(f"the model already has a task '{task.name}'")
        self.config.tasks.append(task)
        self._build_task(task)

    def set_class_vectors(
        self,
        task: str,
        vectors: np.ndarray | Tensor,
        classes: list[str] | None = None,
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        """Sets a cosine head's class vectors (zero- or few-shot), optionally renaming classes.

        Args:
            task: the task name.
            vectors: float [n_classes, d_model], one row per class, in class order.
            classes: new class names (required when the number of classes changes).
            descriptions: new class descriptions to record in the config.
        """
        config = self.task(task)
        head = self.heads[task]
        if not isinstance(head, CosineClassifier):
            raise ValueError(f"task '{task}' has no cosine classifier; its class vectors are fixed")
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        names = list(classes) if classes is not None else config.classes
        if vectors.ndim != 2 or vectors.shape != (len(names), self.config.d_model):
            raise ValueError(
                f"task '{task}': class vectors of shape {tuple(vectors.shape)}, expected "
                f"({len(names)}, {self.config.d_model})"
            )
        head.set_class_vectors(vectors)
        config.classes = names
        if descriptions is not None:
            config.descriptions = dict(descriptions)

    def _tokens(self, inputs: Mapping[str, ModalityTokens]) -> tuple[Tensor, Tensor, Tensor]:
        """Projects and concatenates the modalities present in ``inputs``.

        Returns:
            x: float32 [batch, n_tokens, d_model] with type and timestamp terms added.
            present: bool [batch, n_tokens].
            modality: int64 [n_tokens], index of each token's modality in config order.
        """
        unknown = set(inputs) - set(self.modalities)
        if unknown:
            raise ValueError(
                f"unknown modalities {sorted(unknown)}; the model reads {self.modalities}"
            )
        device = self.type_embedding.device
        own = list(self.config.modalities)
        parts, masks, times, modality = [], [], [], []
        for index, name in enumerate(self.modalities):
            if name not in inputs:
                continue
            source = self.config.aliases.get(name, name)  # whose weights read these tokens
            dim = self.config.modalities[source]
            mod = inputs[name]
            tokens = _tensor(mod.tokens, torch.float32, device)  # [batch, n, dim]
            mask = _tensor(mod.mask, torch.bool, device)  # [batch, n]
            if tokens.ndim != 3 or tokens.shape[-1] != dim or mask.shape != tokens.shape[:2]:
                raise ValueError(
                    f"modality '{name}': tokens {tuple(tokens.shape)} and mask "
                    f"{tuple(mask.shape)}, expected [batch, n_tokens, {dim}] and [batch, n_tokens]"
                )
            tokens = tokens.masked_fill(~mask[..., None], 0.0)  # padding may hold anything
            parts.append(self.projections[source](tokens) + self.type_embedding[own.index(source)])
            masks.append(mask)
            times.append(_tensor(mod.times, torch.float32, device))
            modality.append(torch.full((tokens.shape[1],), index, device=device))
        if not parts:
            raise ValueError(f"no input modality; the model reads {self.modalities}")
        if len({p.shape[0] for p in parts}) > 1:
            raise ValueError("modalities disagree on the batch size")
        x = torch.cat(parts, dim=1)  # [batch, n_tokens, d_model]
        x = x + self.time_map(sinusoidal_encoding(torch.cat(times, dim=1), TIME_FEATURES))
        return x, torch.cat(masks, dim=1), torch.cat(modality)

    def _prior(self, task: TaskConfig, inputs: Mapping[str, ModalityTokens]) -> Tensor | float:
        """float32 [batch, n_classes]: log of the mean prior probabilities over the present
        prior modalities (``TaskConfig.prior``); 0 where an item has none; 0. for a plain head."""
        device = self.type_embedding.device
        total, count = 0.0, 0.0
        for modality, (start, stop) in task.prior.items():
            if modality not in inputs:
                continue
            mod = inputs[modality]
            present = _tensor(mod.mask, torch.float32, device)[:, 0, None]  # [batch, 1]
            probs = _tensor(mod.tokens, torch.float32, device)[:, 0, start:stop]
            total = total + probs * present
            count = count + present
        if isinstance(count, float):
            return 0.0
        mean = total / count.clamp(min=1.0)
        return torch.log(mean.clamp(min=PRIOR_FLOOR)) * (count > 0)

    def forward(self, inputs: Mapping[str, ModalityTokens]) -> FusionOutput:
        """Runs every task on a batch.

        Args:
            inputs: modality name -> ``ModalityTokens`` (numpy arrays or torch tensors). A
                modality an item lacks has an all-False mask row; one the whole batch lacks may
                be left out.

        Returns:
            ``FusionOutput`` with one entry per task.
        """
        x, present, modality = self._tokens(inputs)
        visible = present | ~present.any(dim=1, keepdim=True)  # empty items see all, harmlessly
        for layer in self.layers:
            x = layer(x, visible)
        pooled, weights = self.decoder(x, present, self.tasks)
        one_hot = nn.functional.one_hot(modality, len(self.modalities)).float()
        shares = weights @ one_hot  # [batch, n_tasks, n_modalities]
        output = FusionOutput({}, {}, {}, {})
        for i, name in enumerate(self.tasks):
            head = self.heads[name]
            output.pooled[name] = pooled[:, i]
            config = self.task(name)
            output.logits[name] = head(pooled[:, i]) + self._prior(config, inputs)
            if config.calibration:
                logits = output.logits[name]
                bias = torch.tensor(config.calibration["bias"], device=logits.device)
                output.logits[name] = logits / float(config.calibration["temperature"]) + bias
            output.scores[name] = head.scores(output.logits[name])
            output.shares[name] = shares[:, i]
        return output


def save_model(model: FusionModel, folder: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Writes ``config.json`` and ``model.safetensors`` (weights cast to ``dtype``) to a folder,
    and their SHA-256 to ``sha256.json``.

    float16 halves the file; ``load_model`` casts back to float32.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": FORMAT})
    document = {"format": FORMAT, "version": FORMAT_VERSION, **model.config.to_dict()}
    (folder / CONFIG_FILE).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    checksums = {name: file_sha256(folder / name) for name in (CONFIG_FILE, WEIGHTS_FILE)}
    (folder / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2) + "\n")
    return folder


def verify_files(folder: Path) -> None:
    """Checks a saved model's config and weights against the SHA-256 ``save_model`` recorded.

    Raises:
        ModelUnavailable: no record (a folder not written by ``save_model``), or a file that
            differs from it, named in one line.
    """
    try:
        recorded = json.loads((folder / CHECKSUMS_FILE).read_text())
    except (OSError, ValueError):
        recorded = None
    if not isinstance(recorded, dict):
        raise ModelUnavailable(
            f"{folder}: no readable {CHECKSUMS_FILE} (the SHA-256 of its files, written by "
            "mmfuse train): train it again"
        )
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        path = folder / name
        if not path.is_file() or file_sha256(path) != recorded.get(name):
            raise ModelUnavailable(
                f"{path} differs from the SHA-256 recorded when it was written "
                f"({CHECKSUMS_FILE}): the model was changed or damaged; restore or retrain it"
            )


def read_config(path: Path) -> FusionConfig:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"cannot read fusion config {path}: {error}") from error
    fmt, version = data.pop("format", FORMAT), data.pop("version", FORMAT_VERSION)
    if fmt != FORMAT or version > FORMAT_VERSION:
        raise ModelUnavailable(f"{path} is not an mmfuse fusion config (v{FORMAT_VERSION})")
    try:
        return FusionConfig.from_dict(data)
    except (TypeError, ValueError) as error:
        raise ModelUnavailable(f"bad fusion config {path}: {error}") from error


def _read_weights(folder: Path) -> dict[str, Tensor]:
    """The state dict from safetensors, or from a pickle file read without running its code."""
    if (folder / WEIGHTS_FILE).is_file():
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(folder / WEIGHTS_FILE))
        except (OSError, SafetensorError) as error:  # a truncated or corrupt file
            raise ModelUnavailable(f"cannot read {folder / WEIGHTS_FILE}: {error}") from error
    for name in PICKLED_WEIGHTS:
        if (folder / name).is_file():
            try:
                state = torch.load(folder / name, map_location="cpu", weights_only=True)
            except Exception as error:  # UnpicklingError and friends: anything not plain tensors
                raise ModelUnavailable(
                    f"refusing {folder / name}: not a plain tensor file ({type(error).__name__}); "
                    f"convert it to {WEIGHTS_FILE}"
                ) from error
            if not (isinstance(state, dict) and all(isinstance(v, Tensor) for v in state.values())):
                raise ModelUnavailable(f"{folder / name} does not hold a state dict of tensors")
            return state
    raise ModelUnavailable(f"no {WEIGHTS_FILE} in {folder}")


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> FusionModel:
    """Reads a checkpoint folder written by ``save_model``; never unpickles code.

    Raises:
        ModelUnavailable: missing or malformed files, weights that do not fit the config, or
            a weight that is NaN or infinite (it would give NaN scores).
    """
    folder = Path(folder)
    model = FusionModel(read_config(folder / CONFIG_FILE))
    state = {k: v.float() for k, v in _read_weights(folder).items()}
    if bad := next((k for k, v in state.items() if not torch.isfinite(v).all()), None):
        raise ModelUnavailable(f"{folder}: weight {bad} is not finite (NaN or inf): retrain it")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ModelUnavailable(f"weights in {folder} do not fit its config: {first}") from error
    return model.to(device).eval()


def list_models() -> list[str]:
    """Names ``create_model`` accepts: named configs (untrained) and shipped checkpoints."""
    configs = [p.stem for p in CONFIGS_DIR.glob("*.json")]
    shipped = [p.name for p in CHECKPOINTS_DIR.glob("*") if (p / CONFIG_FILE).is_file()]
    return sorted(set(configs) | set(shipped))


def checkpoint_folder(name_or_path: str | Path) -> Path:
    """The folder of a shipped checkpoint name (e.g. "mmfuse-base") or a checkpoint path.

    Raises:
        ModelUnavailable: neither names a folder holding a model.
    """
    shipped = CHECKPOINTS_DIR / str(name_or_path)
    folder = shipped if (shipped / CONFIG_FILE).is_file() else Path(name_or_path)
    if not (folder / CONFIG_FILE).is_file():
        raise ModelUnavailable(
            f"no model at '{name_or_path}': give a folder written by `mmfuse train` or a "
            f"shipped name ({', '.join(sorted(p.name for p in CHECKPOINTS_DIR.glob('*')))})"
        )
    return folder


def create_model(name_or_path: str | Path, **overrides: Any) -> FusionModel:
    """A fusion model from a name or a path.

    Args:
        name_or_path: a shipped checkpoint name (``mmfuse/checkpoints/NAME/``), a named config
            (``mmfuse/model_configs/NAME.json``, untrained), a checkpoint folder, or a JSON
            config file (untrained).
        **overrides: ``FusionConfig`` fields replacing the named config's (e.g.
            ``modalities=...``, ``tasks=[...]``); only for untrained configs.

    Raises:
        ModelUnavailable: an unknown name or an unreadable checkpoint, in one line.
    """
    path = Path(name_or_path).expanduser()
    shipped = CHECKPOINTS_DIR / str(name_or_path)
    named = CONFIGS_DIR / f"{name_or_path}.json"
    for folder in (shipped, path):
        if (folder / CONFIG_FILE).is_file():
            if overrides:
                raise ValueError(f"'{name_or_path}' is a trained checkpoint: no config overrides")
            return load_model(folder)
    for config_path in (named, path):
        if config_path.is_file() and config_path.suffix == ".json":
            config = read_config(config_path)
            try:
                return FusionModel(replace(config, **overrides)).eval()
            except (TypeError, ValueError) as error:
                raise ValueError(f"bad overrides for '{name_or_path}': {error}") from error
    raise ModelUnavailable(
        f"unknown fusion model '{name_or_path}': give a checkpoint folder, a JSON config, or "
        f"one of {', '.join(list_models()) or '(none installed)'}"
    )
