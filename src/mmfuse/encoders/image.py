"""Image encoders: pixels to pooled features, ImageNet probabilities and text-space vectors.

Two backends, one interface (``ImageEncoder``):

- ``timm:NAME``: an ImageNet-1k classifier. The default, ``timm:tf_efficientnet_lite0``, has its
  weights inside an installed package; ``timm:ARCH@/path/to/weights`` loads a local state
  dict; ``timm:ARCH`` downloads timm's pretrained weights when online use is allowed. Free-text
  labels are scored through the ImageNet classes (``mmfuse.encoders.conse``).
- ``open_clip:ARCH/TAG`` (online) or ``open_clip:ARCH@/path/to/weights`` (local; ARCH may be a
  model config JSON): a CLIP model, whose own text tower scores labels ("a photo of a {label}")
  and whose zero-shot ImageNet probabilities give the same ``probs`` as a classifier.

Both project into the default text encoder's space by ConSE, so the fusion model always gets
MiniLM-space image vectors, whichever image model made them.
"""

from __future__ import annotations

import abc
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mmfuse import config
from mmfuse.cache import file_sha256
from mmfuse.encoders import conse
from mmfuse.encoders.base import Encoder, create_encoder, register_backend
from mmfuse.errors import ModelUnavailable
from mmfuse.registry import ModelRef, default_model

# Images per forward pass: about 20 MB of float32 224x224 inputs, bounded whatever N is given.
BATCH_SIZE = 32
# A timm CNN on the CPU runs channels-last in batches of two: EfficientNet-Lite0 on the 2-core
# development machine, 74 images/s against 40 NCHW in batches of 32 (Lite2: 40 against 20);
# the activations of small batches stay in the caches.
CPU_CNN_BATCH_SIZE = 2
# Threads that resize a batch's images (Pillow releases the GIL while it resamples), so the
# thread that runs the model does not resize a camera trap's crops and whole frame one by one.
RESIZE_THREADS = min(8, os.cpu_count() or 1)
# ImageNet-1k: the label space of ``probs`` for every backend.
N_CLASSES = 1000
# ImageNet classes per text-tower call when building the zero-shot classifier: 350 prompts,
# about 0.5 GB of activations in ViT-B-32's text tower.
CLIP_CLASSES_PER_BATCH = 50
# The prompt CLIP models score a free-text label with (Radford et al. 2021, section 3.1.4).
CLIP_LABEL_TEMPLATE = "a photo of a {}."
# Prompts averaged per ImageNet class for CLIP's zero-shot ``probs``: the 7-prompt subset of
# CLIP's 80 that open_clip ships as SIMPLE_IMAGENET_TEMPLATES (openai/CLIP notebook
# Prompt_Engineering_for_ImageNet).
CLIP_IMAGENET_TEMPLATES = (
    "itap of a {}.",
    "a bad photo of the {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
)


@dataclass
class ImageFeatures:
    """An image encoder's output for N images (every field an [N, ...] array).

    Attributes:
        features: float32 [N, F] pooled penultimate features (CLIP: image embeddings),
            L2-normalised.
        probs: float32 [N, 1000] ImageNet-1k class probabilities (CLIP: zero-shot).
        text_space: float32 [N, D] ConSE projection into the default text encoder's space
            (D = 384 for all-MiniLM-L6-v2), L2-normalised.
    """

    features: np.ndarray
    probs: np.ndarray
    text_space: np.ndarray


class ImageEncoder(Encoder):
    """Images to ``ImageFeatures``; zero-shot label scores and visual concepts from them.

    Args:
        model_id: the ``backend:name`` it was created from.
        dim: F, the size of ``features``.
        device: "cpu" or "cuda[:n]".
        text_encoder: the sentence encoder whose space ``text_space`` is in; anything with
            ``model_id`` and ``encode(texts) -> float32 [N, D]`` (a fake in tests).
    """

    modality = "image"
    batch_size = BATCH_SIZE  # images per forward pass

    def __init__(self, model_id: str, dim: int, device: str, text_encoder: conse.TextEmbedder):
        super().__init__(model_id, dim, device)
        self.text_encoder = text_encoder
        self._class_embeddings: np.ndarray | None = None
        self._last_labels: tuple[tuple[str, ...], np.ndarray] | None = None

    def settings(self) -> dict:
        return {"model_id": self.model_id, "text_model_id": self.text_encoder.model_id}

    @property
    def class_embeddings(self) -> np.ndarray:
        """float32 [1000, D] ImageNet class texts in the text encoder's space (cached on disk)."""
        if self._class_embeddings is None:
            self._class_embeddings = conse.class_text_embeddings(self.text_encoder)
        return self._class_embeddings

    @abc.abstractmethod
    def _forward(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """float32 [n, F] L2-normalised features and [n, 1000] probabilities of one batch."""

    def encode(self, images: Sequence[np.ndarray]) -> ImageFeatures:
        """Encodes images in batches of ``batch_size``.

        Args:
            images: RGB uint8 [H, W, 3] arrays, any sizes.

        Returns:
            ``ImageFeatures`` with N = len(images) rows, in order.
        """
        for image in images:
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"expected RGB uint8 [H, W, 3], got {image.dtype} {image.shape}")
        features = np.zeros((0, self.dim), dtype=np.float32)
        probs = np.zeros((0, N_CLASSES), dtype=np.float32)
        parts = [
            self._forward(images[i : i + self.batch_size])
            for i in range(0, len(images), self.batch_size)
        ]
        if parts:
            features = np.concatenate([p[0] for p in parts])
            probs = np.concatenate([p[1] for p in parts])
        text_space = conse.conse_project(probs, self.class_embeddings)
        return ImageFeatures(features, probs, text_space)

    def label_scores(self, feats: ImageFeatures, labels: Sequence[str]) -> np.ndarray:
        """Zero-shot probabilities of free-text labels.

        Args:
            feats: the images' ``encode`` output.
            labels: L free-text labels ("cat", "a red motorcycle in a garage").

        Returns:
            float32 [N, L], each row a probability distribution over the labels.
        """
        vectors = self._label_vectors(labels)
        return conse.label_distribution(feats.probs, self.class_embeddings, vectors)

    def _label_vectors(self, labels: Sequence[str]) -> np.ndarray:
        """float32 [L, D] embedded labels, kept for the last label set (a run scores the same
        labels batch after batch)."""
        key = tuple(labels)
        if self._last_labels is None or self._last_labels[0] != key:
            self._last_labels = (key, self._embed_labels(key))
        return self._last_labels[1]

    def _embed_labels(self, labels: Sequence[str]) -> np.ndarray:
        """float32 [L, D] L2-normalised label embeddings, in the space labels are scored in."""
        return conse.label_embeddings(self.text_encoder, labels)

    def concepts(self, feats: ImageFeatures, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The visual concepts of each image.

        Args:
            feats: the images' ``encode`` output.
            top_k: concepts per image.

        Returns:
            Per image, ``top_k`` (concept, probability mass) pairs, highest first: ImageNet
            class names and WordNet coarse categories (animal, bird, person, vehicle, food,
            plant, ...).
        """
        return conse.concept_scores(feats.probs, top_k)


def _batch_tensor(images: Sequence[np.ndarray], transform, device: str) -> torch.Tensor:
    """float32 [n, 3, h, w]: each image through a torchvision-style PIL transform."""
    return torch.stack([transform(Image.fromarray(image)) for image in images]).to(device)


_resize_pools: dict[int, ThreadPoolExecutor] = {}  # process id -> its pool (none survives a fork)


def _resize_pool() -> ThreadPoolExecutor:
    pool = _resize_pools.get(os.getpid())
    if pool is None:
        pool = ThreadPoolExecutor(RESIZE_THREADS, thread_name_prefix="mmfuse-resize")
        _resize_pools[os.getpid()] = pool
    return pool


def _fast_pixels(transform):
    """The same tensors as a timm ``transform`` ending in to-tensor and normalise, with those two
    steps done once for the batch (``(pixels / 255 - mean) / std``, in torchvision's order) on
    channels-last memory instead of per image; None for other transforms."""
    from torchvision import transforms as T

    steps = list(getattr(transform, "transforms", []))
    if len(steps) < 2 or not isinstance(steps[-1], T.Normalize):
        return None
    if type(steps[-2]).__name__ not in ("ToTensor", "MaybeToTensor"):
        return None
    resize = T.Compose(steps[:-2])
    mean = torch.as_tensor(steps[-1].mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.as_tensor(steps[-1].std, dtype=torch.float32).view(1, -1, 1, 1)

    def resized(image: np.ndarray) -> np.ndarray:
        return np.asarray(resize(Image.fromarray(image)))

    def pixels(images: Sequence[np.ndarray], device: str) -> torch.Tensor:
        if len(images) > 1 and RESIZE_THREADS > 1:
            arrays = np.stack(list(_resize_pool().map(resized, images)))
        else:
            arrays = np.stack([resized(image) for image in images])
        batch = torch.from_numpy(arrays).to(device).permute(0, 3, 1, 2).float().div(255)
        return batch.sub(mean.to(device)).div(std.to(device))

    return pixels


class TimmImageEncoder(ImageEncoder):
    """An ImageNet-1k timm classifier; labels scored through its class probabilities.

    Args:
        model: a timm model with 1000 outputs, weights loaded.
        model_id: the ``backend:name`` it was created from.
        device: "cpu" or "cuda[:n]".
        text_encoder: see ``ImageEncoder``.
    """

    def __init__(self, model, model_id: str, device: str, text_encoder: conse.TextEmbedder):
        import timm.data

        if model.num_classes != N_CLASSES:
            raise ModelUnavailable(
                f"model '{model_id}' has {model.num_classes} outputs; an ImageNet-1k "
                f"classifier ({N_CLASSES}) is needed"
            )
        super().__init__(model_id, model.num_features, device, text_encoder)
        self.model = model.eval().to(device, memory_format=torch.channels_last)
        if device.startswith("cpu"):
            self.batch_size = CPU_CNN_BATCH_SIZE
        self.transform = timm.data.create_transform(
            **timm.data.resolve_data_config({}, model=model)
        )
        self._pixels = _fast_pixels(self.transform)

    @torch.inference_mode()
    def _forward(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self._pixels is None:
            pixels = _batch_tensor(images, self.transform, self.device)  # [n, 3, 224, 224]
        else:
            pixels = self._pixels(images, self.device)
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        pooled = self.model.forward_head(self.model.forward_features(pixels), pre_logits=True)
        logits = self.model.get_classifier()(pooled)  # [n, 1000]
        features = torch.nn.functional.normalize(pooled.float(), dim=-1)
        return features.cpu().numpy(), logits.float().softmax(-1).cpu().numpy()


class OpenClipImageEncoder(ImageEncoder):
    """A CLIP model: labels scored by its own text tower, ``probs`` by zero-shot ImageNet.

    Args:
        model: an open_clip CLIP model, weights loaded.
        preprocess: its inference image transform.
        tokenizer: its tokenizer.
        model_id: the ``backend:name`` it was created from.
        dim: E, the size of its joint image-text embeddings.
        device: "cpu" or "cuda[:n]".
        text_encoder: see ``ImageEncoder`` (for ``text_space``).
        weights_key: what identifies the weights in cache keys (a file hash or a hub tag).
    """

    def __init__(
        self,
        model,
        preprocess,
        tokenizer,
        model_id: str,
        dim: int,
        device: str,
        text_encoder: conse.TextEmbedder,
        weights_key: str,
    ):
        super().__init__(model_id, dim, device, text_encoder)
        self.model = model.eval().to(device)
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.weights_key = weights_key
        self._zero_shot: torch.Tensor | None = None

    @torch.inference_mode()
    def _embed_labels(self, labels: Sequence[str]) -> np.ndarray:
        """float32 [L, E] L2-normalised text-tower embeddings of "a photo of a {label}."."""
        prompts = [CLIP_LABEL_TEMPLATE.format(label) for label in labels]
        tokens = self.tokenizer(prompts).to(self.device)
        return self.model.encode_text(tokens, normalize=True).float().cpu().numpy()

    @property
    def zero_shot_weights(self) -> torch.Tensor:
        """float32 [E, 1000]: the ImageNet class prompts through the text tower (cached)."""
        if self._zero_shot is None:
            from open_clip.zero_shot_classifier import build_zero_shot_classifier
            from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

            recipe = f"{self.model_id}|{self.weights_key}|{'|'.join(CLIP_IMAGENET_TEMPLATES)}"
            key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
            path = config.models_cache_dir() / f"open_clip-imagenet-zero-shot-{key}.npy"
            if path.is_file():
                weights = np.load(path)
            else:
                weights = (
                    build_zero_shot_classifier(
                        self.model,
                        self.tokenizer,
                        IMAGENET_CLASSNAMES,
                        CLIP_IMAGENET_TEMPLATES,
                        num_classes_per_batch=CLIP_CLASSES_PER_BATCH,
                        device=self.device,
                    )
                    .float()
                    .cpu()
                    .numpy()
                )
                conse.save_npy_atomic(weights, path)
            self._zero_shot = torch.from_numpy(weights).to(self.device)
        return self._zero_shot

    @torch.inference_mode()
    def _forward(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        pixels = _batch_tensor(images, self.preprocess, self.device)
        embedded = self.model.encode_image(pixels, normalize=True).float()  # [n, E]
        logits = self.model.logit_scale.exp().float() * embedded @ self.zero_shot_weights
        return embedded.cpu().numpy(), logits.softmax(-1).cpu().numpy()

    @torch.inference_mode()
    def label_scores(self, feats: ImageFeatures, labels: Sequence[str]) -> np.ndarray:
        """As ``ImageEncoder.label_scores``, by CLIP's own image-text similarity."""
        texts = torch.from_numpy(self._label_vectors(labels)).to(self.device)
        images = torch.from_numpy(feats.features).to(self.device)
        logits = self.model.logit_scale.exp().float() * images @ texts.T  # [N, L]
        return logits.softmax(-1).cpu().numpy().astype(np.float32)


def default_text_encoder(device: str) -> conse.TextEmbedder:
    """The default text encoder (all-MiniLM-L6-v2), whose space ``text_space`` is in."""
    return create_encoder(default_model("text"), device)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a torch checkpoint (tensors only)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], model_id: str) -> None:
    """Loads a state dict by name, or by position when it is the same tensors under other
    names (the packaged EfficientNet-Lite0 uses lukemelas/EfficientNet-PyTorch names).

    Raises:
        ModelUnavailable: neither the names nor the shapes in order match the model.
    """
    own = model.state_dict()
    if set(state) == set(own):
        model.load_state_dict(state)
        return
    shapes_match = len(state) == len(own) and all(
        a.shape == b.shape for a, b in zip(state.values(), own.values(), strict=True)
    )
    if not shapes_match:
        raise ModelUnavailable(f"model '{model_id}': the weights do not fit the architecture")
    model.load_state_dict(dict(zip(own.keys(), state.values(), strict=True)))


def _timm_model(ref: ModelRef):
    """The timm classifier of a resolved ``timm:`` id, weights loaded, never downloading
    unless the id is a hub name and online use was allowed."""
    import timm

    if ref.spec is not None and Path(ref.source).is_dir():  # packaged, hash-checked weights
        arch = ref.spec.name
        weights = Path(ref.source) / next(iter(ref.spec.files))
    else:
        arch, _, local = ref.source.partition("@")
        weights = Path(local).expanduser() if local else None
    try:
        model = timm.create_model(arch, pretrained=weights is None)
    except (RuntimeError, OSError) as error:  # unknown architecture or failed download
        raise ModelUnavailable(f"model '{ref.id}': {_first_line(error)}") from None
    if weights is not None:
        try:
            state = _read_state_dict(weights)
        except Exception as error:  # a damaged or foreign file fails in many ways
            raise ModelUnavailable(
                f"model '{ref.id}': cannot read {weights.name}: {_first_line(error)}"
            ) from None
        load_weights(model, state, ref.id)
    return model


@register_backend("timm")
def create_timm_encoder(ref: ModelRef, device: str) -> TimmImageEncoder:
    """Factory of the ``timm`` backend (see ``mmfuse.encoders.base.create_encoder``)."""
    return TimmImageEncoder(_timm_model(ref), ref.id, device, default_text_encoder(device))


@register_backend("open_clip")
def create_open_clip_encoder(ref: ModelRef, device: str) -> OpenClipImageEncoder:
    """Factory of the ``open_clip`` backend: ``ARCH@/path/to/weights`` or ``ARCH/TAG`` (online).

    ARCH is an open_clip model name or the path of a model config JSON.
    """
    import open_clip

    if "@" in ref.source:
        arch, _, pretrained = ref.source.partition("@")
        pretrained = str(Path(pretrained).expanduser())
        weights_key = file_sha256(Path(pretrained))
    else:
        arch, _, pretrained = ref.source.partition("/")
        weights_key = pretrained
    if arch.endswith(".json") and Path(arch).expanduser().is_file():
        open_clip.add_model_config(Path(arch).expanduser())
        arch = Path(arch).stem
    if not pretrained:
        raise ModelUnavailable(f"model '{ref.id}': give ARCH@/path/to/weights or ARCH/TAG")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(arch)
        dim = int(open_clip.get_model_config(arch)["embed_dim"])
    except Exception as error:  # unknown architecture or tag, a damaged or foreign weight file
        raise ModelUnavailable(f"model '{ref.id}': {_first_line(error)}") from None
    return OpenClipImageEncoder(
        model, preprocess, tokenizer, ref.id, dim, device, default_text_encoder(device), weights_key
    )
