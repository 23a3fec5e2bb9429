"""Converts a CTranslate2 Whisper model (faster-whisper's format) into an openai-whisper checkpoint
and loads such checkpoints (weights only).

The packaged Whisper weights are CTranslate2 ``model.bin`` files; openai-whisper wants a PyTorch
checkpoint ``{"dims": ModelDimensions as a dict, "model_state_dict": ...}``. Both hold the same
tensors (upstream openai -> Hugging Face -> CTranslate2 only renames them and fuses the attention
projections), so the conversion parses ``model.bin``, splits the fused projections back and
renames. The checkpoint is built once into ``config.models_cache_dir()``, atomically, in a folder
named after the source file's hash so new weights never reuse a stale conversion.

``model.bin`` layout (little-endian; ctranslate2/specs/model_spec.py ``_serialize``):
``u32 binary_version, str spec_name, u32 spec_revision, u32 n_variables``, then per variable
``str name, u8 rank, u32 dims[rank], u8 dtype_id, u32 n_bytes, bytes data``, then
``u32 n_aliases`` and per alias ``str alias, str target``. A ``str`` is ``u16 length`` (with the
trailing NUL) followed by the UTF-8 bytes and the NUL.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from mmfuse import config

# The layout version written by ctranslate2 >= 3 (model_spec.CURRENT_BINARY_VERSION).
SUPPORTED_BINARY_VERSION = 6
WHISPER_SPEC_NAME = "WhisperSpec"
# dtype ids in the order of the DataType enum of include/ctranslate2/types.h; bfloat16 is read
# as raw 16-bit words and reinterpreted by torch, as numpy has no bfloat16.
DTYPE_IDS = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
# openai-whisper's feed-forward layers are always 4 x the model width (model.py n_mlp).
MLP_RATIO = 4
# File name of the checkpoint inside the converted folder (what the registry hashes).
CHECKPOINT_NAME = "model.pt"

# CTranslate2 layer scope -> openai-whisper module path, per transformer layer.
_LAYER_SCOPES = {
    "self_attention/layer_norm": "attn_ln",
    "self_attention/linear_1": "attn.out",
    "attention/layer_norm": "cross_attn_ln",
    "attention/linear_0": "cross_attn.query",
    "attention/linear_2": "cross_attn.out",
    "ffn/layer_norm": "mlp_ln",
    "ffn/linear_0": "mlp.0",
    "ffn/linear_1": "mlp.2",
}
# Fused projections: CTranslate2 scope -> the openai projections concatenated along dim 0.
_FUSED_SCOPES = {
    "self_attention/linear_0": ("attn.query", "attn.key", "attn.value"),
    "attention/linear_1": ("cross_attn.key", "cross_attn.value"),
}
# Whole-model variables: CTranslate2 name -> openai-whisper state-dict name.
_GLOBAL_NAMES = {
    "encoder/conv1/weight": "encoder.conv1.weight",
    "encoder/conv1/bias": "encoder.conv1.bias",
    "encoder/conv2/weight": "encoder.conv2.weight",
    "encoder/conv2/bias": "encoder.conv2.bias",
    "encoder/position_encodings/encodings": "encoder.positional_embedding",
    "encoder/layer_norm/gamma": "encoder.ln_post.weight",
    "encoder/layer_norm/beta": "encoder.ln_post.bias",
    "decoder/embeddings/weight": "decoder.token_embedding.weight",
    "decoder/position_encodings/encodings": "decoder.positional_embedding",
    "decoder/layer_norm/gamma": "decoder.ln.weight",
    "decoder/layer_norm/beta": "decoder.ln.bias",
}
_PARAM_NAMES = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}
_LAYER_VARIABLE = re.compile(r"^(encoder|decoder)/layer_(\d+)/(.+)/(weight|bias|gamma|beta)$")


def _read_string(buffer: mmap.mmap, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<H", buffer, offset)
    start = offset + 2
    return bytes(buffer[start : start + length - 1]).decode("utf-8"), start + length


def read_ctranslate2_model(model_bin: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Parses a CTranslate2 ``model.bin`` without copying its tensors.

    Args:
        model_bin: path of the ``model.bin`` file.

    Returns:
        The spec name (e.g. "WhisperSpec") and every variable by name, aliases resolved: numpy
        arrays viewing the memory-mapped file (read-only), in their stored dtype, bfloat16 as
        uint16 words.

    Raises:
        ValueError: the file is not a CTranslate2 model of the supported binary version.
    """
    with open(model_bin, "rb") as f:
        buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        (version,) = struct.unpack_from("<I", buffer, 0)
        if version != SUPPORTED_BINARY_VERSION:
            raise ValueError(
                f"{model_bin}: CTranslate2 binary version {version} is not supported "
                f"(expected {SUPPORTED_BINARY_VERSION})"
            )
        spec_name, offset = _read_string(buffer, 4)
        _revision, n_variables = struct.unpack_from("<II", buffer, offset)
        offset += 8
        variables: dict[str, np.ndarray] = {}
        for _ in range(n_variables):
            name, offset = _read_string(buffer, offset)
            rank = buffer[offset]
            shape = struct.unpack_from(f"<{rank}I", buffer, offset + 1)
            offset += 1 + 4 * rank
            dtype_id = buffer[offset]
            (n_bytes,) = struct.unpack_from("<I", buffer, offset + 1)
            offset += 5
            dtype = np.dtype(DTYPE_IDS[dtype_id])
            count = n_bytes // dtype.itemsize
            array = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
            variables[name] = array.reshape(shape)
            offset += n_bytes
        (n_aliases,) = struct.unpack_from("<I", buffer, offset)
        offset += 4
        for _ in range(n_aliases):
            alias, offset = _read_string(buffer, offset)
            target, offset = _read_string(buffer, offset)
            variables[alias] = variables[target]
    except (struct.error, KeyError, IndexError) as error:
        raise ValueError(f"{model_bin}: not a valid CTranslate2 model.bin ({error})") from error
    return spec_name, variables


def model_dimensions(variables: dict[str, np.ndarray]) -> dict[str, int]:
    """openai-whisper's ``ModelDimensions`` fields read off the CTranslate2 variable shapes."""

    def n_layers(side: str) -> int:
        pattern = re.compile(rf"^{side}/layer_(\d+)/")
        return 1 + max(int(m.group(1)) for m in map(pattern.match, variables) if m)

    conv1 = variables["encoder/conv1/weight"]  # [n_audio_state, n_mels, 3]
    embeddings = variables["decoder/embeddings/weight"]  # [n_vocab, n_text_state]
    for side, state in (("encoder", conv1.shape[0]), ("decoder", embeddings.shape[1])):
        n_mlp = variables[f"{side}/layer_0/ffn/linear_0/weight"].shape[0]
        if n_mlp != MLP_RATIO * state:
            raise ValueError(
                f"{side} feed-forward width {n_mlp} is not {MLP_RATIO} x {state}; "
                "openai-whisper cannot hold this model"
            )
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": n_layers("encoder"),
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": n_layers("decoder"),
    }


def _tensor(array: np.ndarray):
    """A torch copy of a mapped array (bfloat16 words reinterpreted)."""
    import torch

    if array.dtype == np.uint16:
        return torch.from_numpy(array.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(array.copy())


def openai_state_dict(variables: dict[str, np.ndarray]) -> dict:
    """openai-whisper's state dict (torch tensors, stored dtype) from CTranslate2 variables.

    Fused query/key/value projections are split in that order; openai-whisper's key projection
    has no bias (CTranslate2 stores zeros there), so the key bias is dropped.

    Raises:
        ValueError: a quantized model (int8/int16 weights with scales) or an unknown variable.
    """
    if any(name.endswith("weight_scale") for name in variables):
        raise ValueError("quantized CTranslate2 models cannot be converted; use a float model")
    state: dict = {}
    for name, array in variables.items():
        if name in _GLOBAL_NAMES:
            state[_GLOBAL_NAMES[name]] = _tensor(array)
            continue
        match = _LAYER_VARIABLE.match(name)
        if match is None:
            continue  # scalars (num_heads, flags) and the tied output projection
        side, index, scope, param = match.groups()
        prefix = f"{side}.blocks.{index}."
        if scope in _LAYER_SCOPES:
            state[f"{prefix}{_LAYER_SCOPES[scope]}.{_PARAM_NAMES[param]}"] = _tensor(array)
        elif scope in _FUSED_SCOPES:
            targets = _FUSED_SCOPES[scope]
            for target, part in zip(targets, np.split(array, len(targets)), strict=True):
                if not (param == "bias" and target.endswith(".key")):
                    state[f"{prefix}{target}.{param}"] = _tensor(part)
        else:
            raise ValueError(f"unexpected CTranslate2 Whisper variable '{name}'")
    return state


def convert_ctranslate2_to_openai(ct2_folder: Path, size: str) -> Path:
    """Builds (once) an openai-whisper checkpoint from a CTranslate2 Whisper folder.

    Args:
        ct2_folder: folder with the CTranslate2 ``model.bin`` (faster-whisper's format).
        size: model size name used in the cache folder's name ("base", "tiny.en").

    Returns:
        The folder holding ``model.pt``: ``{"dims": dict, "model_state_dict": dict}``, loadable
        with ``torch.load(..., weights_only=True)``; tensors keep the stored dtype (float16 for
        the packaged models).

    Raises:
        ValueError: ``model.bin`` is not a float CTranslate2 Whisper model.
    """
    import torch

    from mmfuse.cache import file_sha256

    source = Path(ct2_folder) / "model.bin"
    target = config.models_cache_dir() / f"openai-whisper-{size}-{file_sha256(source)[:12]}"
    if (target / CHECKPOINT_NAME).is_file():
        return target
    spec_name, variables = read_ctranslate2_model(source)
    if spec_name != WHISPER_SPEC_NAME:
        raise ValueError(f"{source}: a CTranslate2 '{spec_name}', not a Whisper model")
    checkpoint = {
        "dims": model_dimensions(variables),
        "model_state_dict": openai_state_dict(variables),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    torch.save(checkpoint, staging / CHECKPOINT_NAME)
    try:
        os.rename(staging, target)
    except OSError:  # another process won the race; its checkpoint is the same
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_openai_checkpoint(path: Path, device: str):
    """An openai-whisper model from a ``{"dims", "model_state_dict"}`` checkpoint (weights only).

    Raises:
        ModelUnavailable: the file is not such a checkpoint.
    """
    import torch
    from whisper.model import ModelDimensions, Whisper

    from mmfuse.errors import ModelUnavailable

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelUnavailable(
            f"cannot load openai-whisper checkpoint {path}: {first_line}"
        ) from error
    return model.to(device).eval()
