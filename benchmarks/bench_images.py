"""Images: ``mmfuse encode`` of a folder of 500 photos against the plain per-image loop.

The folder is made in a temporary directory from every readable photo of
``../shared/data/images`` (camera traps, scikit-image photos, the Camtrap DP example), each
copy resized so its longer side is one of 320, 640, 1024, 1600 or 2048 px (JPEG, every tenth
PNG). In one process, models loaded beforehand:

- the loop a user would write: for each file ``PIL.Image.open(...).convert("RGB")``, timm's
  inference transform, ``model(x[None])`` under ``torch.no_grad()``, one image at a time;
- mmfuse: the ``encode`` task through the local engine (what ``mmfuse encode FOLDER`` runs, less
  the writing of tables): decode threads that read ahead while the model runs, JPEGs decoded
  at reduced scale, batches, ``inference_mode``, then the ConSE projection into the text space.

Both use ``timm:tf_efficientnet_lite0`` with the packaged weights; the top-1 ImageNet class of
the two is compared on the first 50 images. Target: at least 3x the loop's images/s. Run
from the repository root: ``python -m benchmarks.bench_images [-n 500]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from benchmarks.common import load, shared_data

TARGET = 3.0
LONGER_SIDES = (320, 640, 1024, 1600, 2048)
SOURCE_KINDS = {".jpg", ".jpeg", ".png"}
IMAGE_MODEL = "timm:tf_efficientnet_lite0"


def sources(root: Path) -> list[Image.Image]:
    """Every readable photo under ``root`` as RGB (damaged files skipped)."""
    images = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SOURCE_KINDS:
            continue
        try:
            with Image.open(path) as image:
                images.append(ImageOps.exif_transpose(image).convert("RGB"))
        except (OSError, SyntaxError, ValueError):
            continue
    return images


def make_folder(root: Path, folder: Path, n: int) -> list[Path]:
    """``n`` resized copies of the photos under ``root``, written into ``folder``."""
    photos = sources(root)
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        side = LONGER_SIDES[(i // len(photos) + i) % len(LONGER_SIDES)]
        scale = side / max(photo.size)
        size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
        copy = photo.resize(size, Image.Resampling.BICUBIC)
        path = folder / (f"img{i:04d}.png" if i % 10 == 9 else f"img{i:04d}.jpg")
        copy.save(path, quality=90) if path.suffix == ".jpg" else copy.save(path)
        paths.append(path)
    return paths


def plain_loop(paths: list[Path], model, transform) -> tuple[float, list[int]]:
    """The user's loop: seconds and the top-1 class of each image."""
    import torch

    top1 = []
    start = time.perf_counter()
    for path in paths:
        image = Image.open(path).convert("RGB")
        with torch.no_grad():
            logits = model(transform(image)[None])
        top1.append(int(logits.argmax()))
    return time.perf_counter() - start, top1


def mmfuse_encode(paths: list[Path], folder: Path) -> tuple[float, list[dict]]:
    """``mmfuse encode FOLDER`` in this process (models loaded first): seconds and rows."""
    from mmfuse.engines.local import run_local
    from mmfuse.engines.options import RunOptions
    from mmfuse.io.discover import discover
    from mmfuse.tasks.encode import EncodeTask

    task = EncodeTask()
    task.setup()
    options = RunOptions(use_cache=False, progress="off")
    items = discover(folder)
    list(run_local(task, items[: options.batch_size], options))  # loads the image model
    start = time.perf_counter()
    rows = list(run_local(task, items, options))
    return time.perf_counter() - start, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="images (500)")
    args = parser.parse_args(argv)
    root = shared_data("images")
    if root is None:
        print("skipped: ../shared/data/images not found (set MMFUSE_DATA)")
        return 0
    import timm.data
    import torch

    from mmfuse.encoders.base import create_encoder

    with tempfile.TemporaryDirectory(prefix="mmfuse-bench-images-") as tmp:
        paths = make_folder(root, Path(tmp), args.n)
        megapixels = np.mean([np.prod(Image.open(p).size) for p in paths]) / 1e6
        print(
            f"{len(paths)} images ({megapixels:.2f} megapixels on average), torch threads "
            f"{torch.get_num_threads()}, load average {load()}"
        )
        encoder = create_encoder(IMAGE_MODEL, "cpu")
        model = encoder.model
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        plain_loop(paths[:5], model, transform)  # warm-up
        loop_s, loop_top1 = plain_loop(paths, model, transform)
        ours_s, rows = mmfuse_encode(paths, Path(tmp))
        failed = [row["id"] for row in rows if row["error"]]
        check = encoder.encode(
            [np.asarray(Image.open(p).convert("RGB")) for p in paths[:50]]
        ).probs.argmax(1)
    loop_rate, ours_rate = len(paths) / loop_s, len(paths) / ours_s
    same = float(np.mean(np.asarray(loop_top1[:50]) == check))
    print(f"plain loop (PIL, transform, forward, one by one): {loop_rate:7.1f} images/s")
    print(f"mmfuse encode (threads, batches, reduced decode): {ours_rate:7.1f} images/s")
    if failed:
        print(f"warning: {len(failed)} rows with errors, e.g. {failed[0]}")
    verdict = "meets" if ours_rate / loop_rate >= TARGET else "misses"
    print(
        f"speed-up {ours_rate / loop_rate:.2f}x ({verdict} the {TARGET:.0f}x target); "
        f"same top-1 class as the loop on {100 * same:.0f} % of the first 50 images"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
