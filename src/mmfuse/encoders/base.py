"""One small interface for every frozen encoder, and the backend registry that creates them.

Backends register themselves with ``@register_backend``; their modules are imported lazily, on
the first ``create_encoder`` call that names them, so importing mmfuse stays cheap (zamba's
``ensure_registered`` pattern).
"""

from __future__ import annotations

import abc
import importlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from mmfuse.registry import ModelRef, resolve, select_device

# backend name -> module that registers it on import
_BACKEND_MODULES = {
    "sentence-transformers": "mmfuse.encoders.text",
    "faster-whisper": "mmfuse.encoders.speech",
    "openai-whisper": "mmfuse.encoders.speech",
    "timm": "mmfuse.encoders.image",
    "open_clip": "mmfuse.encoders.image",
}

_FACTORIES: dict[str, Callable[[ModelRef, str], Encoder]] = {}
# Encoders are frozen and stateless: one instance per (model id, device) serves the process.
_INSTANCES: dict[tuple[str, str], Encoder] = {}
_INSTANCES_LOCK = threading.RLock()  # factories may create the text encoder they need


class Encoder(abc.ABC):
    """A frozen pretrained model that turns one media kind into embeddings.

    Attributes:
        modality: the media kind it reads ("text", "speech", "image", "video").
        model_id: the ``backend:name`` it was created from.
        dim: size of the embedding vectors it returns.
        device: "cpu" or "cuda[:n]".
    """

    modality: ClassVar[str]

    def __init__(self, model_id: str, dim: int, device: str):
        self.model_id = model_id
        self.dim = dim
        self.device = device

    def settings(self) -> dict:
        """Everything besides the weights that changes the outputs (part of cache keys)."""
        return {"model_id": self.model_id}

    @abc.abstractmethod
    def encode(self, inputs: Sequence) -> Any:
        """Encodes a batch of inputs of its modality; each subclass documents the contract
        (text: ``str`` -> float32 [N, dim]; image: RGB uint8 [H, W, 3] -> ``ImageFeatures``;
        speech: float32 [n] 16 kHz mono -> ``SpeechFeatures`` each; video: a path ->
        ``VideoFeatures`` each)."""


def register_backend(name: str) -> Callable:
    """Class or function decorator: ``factory(ref, device) -> Encoder`` serves backend ``name``."""

    def wrap(factory: Callable[[ModelRef, str], Encoder]) -> Callable[[ModelRef, str], Encoder]:
        _FACTORIES[name] = factory
        return factory

    return wrap


def _full_float32_convolutions() -> None:
    """Float32 convolutions in full float32 on a GPU, as on the CPU: cuDNN's default, TF32,
    keeps 10 bits of mantissa and moved camera-trap species scores from the CPU's by up to
    0.06 (labels unchanged)."""
    import torch

    torch.backends.cudnn.conv.fp32_precision = "ieee"


def create_encoder(model_id: str, device: str | None = None) -> Encoder:
    """The encoder for ``backend:name`` on ``device`` (auto when None), loaded once per process.

    Raises:
        ModelUnavailable: the model is not installed, not a path, or fails its hash check.
    """
    device = select_device(device)
    if device.startswith("cuda"):
        _full_float32_convolutions()
    with _INSTANCES_LOCK:
        if (model_id, device) not in _INSTANCES:
            ref = resolve(model_id)
            if ref.backend not in _FACTORIES:
                importlib.import_module(_BACKEND_MODULES[ref.backend])
            _INSTANCES[model_id, device] = _FACTORIES[ref.backend](ref, device)
        return _INSTANCES[model_id, device]
