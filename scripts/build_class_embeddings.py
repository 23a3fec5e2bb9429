"""Precomputes the ImageNet class text embeddings of the default text model, shipped in
``src/mmfuse/data`` so that a fresh install labels images without a minute of encoding.

Rerun after changing ``data/imagenet_hierarchy.tsv`` or the class texts in
``mmfuse.encoders.conse`` (the file name carries a hash of the texts, so a stale file is
simply not used).

    python scripts/build_class_embeddings.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmfuse import registry
from mmfuse.encoders.conse import class_embeddings_path, imagenet_classes, normalise
from mmfuse.encoders.text import TextEncoder

DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "mmfuse" / "data"


def main() -> None:
    model_id = registry.default_model("text")
    # float32, not the bfloat16 fast path: the shipped file must not depend on this CPU
    encoder = TextEncoder(registry.resolve(model_id), "cpu", precision="float32")
    classes = imagenet_classes()
    views = encoder.encode([text for cls in classes for text in cls.texts()])
    embeddings = normalise(views.reshape(len(classes), 3, -1).mean(axis=1)).astype("float32")
    target = DATA_DIR / class_embeddings_path(model_id).name
    for stale in DATA_DIR.glob("imagenet-class-text-*.npy"):
        stale.unlink()
    with open(target, "wb") as f:
        np.save(f, embeddings, allow_pickle=False)
    print(f"wrote {target} {embeddings.shape}")


if __name__ == "__main__":
    main()
