"""A tiny random-weight sentence encoder, saved as sentence-transformers saves one (no download)."""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POOLING_MODES = ("mean_tokens", "cls_token", "max_tokens")


def save_tiny_sentence_transformer(
    folder: Path,
    words: Sequence[str],
    dim: int,
    layers: int = 2,
    max_length: int = 48,
    pooling: str = "mean_tokens",
    punctuation: Sequence[str] = (),
) -> Path:
    """A random-weight BERT (seed 0) over a word-level vocabulary and letters.

    Args:
        folder: where to write it (created; must not exist).
        words: whole-word tokens; other words are spelled in letters.
        dim: hidden size (the embedding width).
        layers: transformer layers.
        max_length: ``max_seq_length`` of ``sentence_bert_config.json``.
        pooling: one of ``POOLING_MODES``.
        punctuation: tokens added after the letters.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True)
    letters = list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase]
    vocab = {t: i for i, t in enumerate([*SPECIALS, *words, *letters, *punctuation])}
    BertTokenizer(vocab=vocab).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=dim,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_length, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir()
    flags = {f"pooling_mode_{m}": m == pooling for m in POOLING_MODES}
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": dim, **flags})
    )
    modules = [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(
            [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
        )
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder
