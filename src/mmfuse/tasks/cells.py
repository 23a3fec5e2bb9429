"""Cell values every task writes alike: rounded numbers, visual concepts, passed-through
manifest columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmfuse.encoders.conse import concept_scores
from mmfuse.fusion.media import EncodedMedia
from mmfuse.types import Item

# Decimals kept in float cells, so batch composition never changes the table's bytes.
DECIMALS = 4
# Visual concepts listed per item.
TOP_CONCEPTS = 5


def rounded(value):
    """Floats and float arrays to ``DECIMALS`` (arrays stay float32); anything else as it is."""
    if isinstance(value, np.ndarray):
        return np.round(value, DECIMALS).astype(np.float32)
    if isinstance(value, float | np.floating):
        return round(float(value), DECIMALS)
    return value


def visual_concepts(media: EncodedMedia, top_k: int = TOP_CONCEPTS) -> str:
    """'tabby 0.41; cat 0.95' for the mean ImageNet reading of an item's images and frames."""
    if media.visual_probs is None:
        return ""
    mean = media.visual_probs.mean(axis=0, keepdims=True)
    return "; ".join(f"{name} {score:.2f}" for name, score in concept_scores(mean, top_k)[0])


def meta_columns(items: Sequence[Item]) -> tuple[str, ...]:
    """The manifest columns passed through to the output (author, brand, ...), in order."""
    return tuple(dict.fromkeys(key for item in items for key in item.meta))


def passed_through(item: Item, columns: Sequence[str]) -> dict[str, str]:
    """The item's cells of the passed-through ``columns`` ("" where it has none)."""
    return {column: item.meta.get(column, "") for column in columns}
