"""Calibrates ``mmfuse-base``'s sarcasm head to how rare sarcasm is in ordinary posts.

    python scripts/calibrate_base.py --data ../shared/data --model DIR [--out DIR]

The fusion model is trained with balanced classes, so its irony probability answers "which
of the two is likelier if both were equally common". In ordinary posts a few per cent are
sarcastic, and a flag at 0.5 should be rare there and mean something (``SARCASM_SHARE``).
The head's logits become ``logits / T + [0, b]`` (``TaskConfig.calibration``;
Platt scaling), with T and b fitted by weighted logistic regression on data no part of the
model was trained on (``base_data``): the iSarcasmEval calibration tenth (authors' labels),
the calibration halves of the held-back VADER snippets and SemEval tweets (sincere posts,
without SemEval 2014's sarcasm file), the sarcastic tweets weighted to ``SARCASM_SHARE`` of
the total. Writes the calibrated checkpoint to ``--out`` (default: in place).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from base_data import (
    isarcasmeval,
    semeval_held_back,
    semeval_sarcasm_keys,
    semeval_sentiment,
    tweet_key,
    tweeteval,
    vader_ground_truth,
)
from sklearn.linear_model import LogisticRegression
from train_base import decode_texts

from mmfuse import config
from mmfuse.fusion.inference import predict
from mmfuse.fusion.model import save_model
from mmfuse.tasks.social_media.fit import Checkpoint

log = logging.getLogger("calibrate_base")

# Sarcastic posts among ordinary ones, as the calibration weighs them. v3's reader: at a
# realistic 5 % no post of the calibration data reaches 0.5 (sarcastic tweets flagged 0 %,
# sincere 0.0 %); at 10 % 10.3 % and 0.4 %, at 15 % 19.5 % and 1.7 %, at 20 % 34.5 % and 4.1 %,
# at 25 % 42.5 % and 7.8 %; it was calibrated at 20 %. v4's (all layers fine-tuned): at 10 %
# 10.3 % and 0.5 %, at 15 % 28.7 % and 1.8 %, at 20 % 36.8 % and 4.9 %, at the 5 % limit on
# sincere posts, and 3 of the 22 plain praise sentences of the tests flagged (at 15 %: 1).
# 15 % keeps a margin under 5 %: a flag at 0.5 then means "about six times likelier
# sarcastic than an ordinary post".
SARCASM_SHARE = 0.15
TASK = "irony"


def calibration_pool(data: Path) -> tuple[list[str], np.ndarray]:
    """Texts never trained on and whether each is sarcastic (1) or sincere (0)."""
    sarcasm = isarcasmeval(data)
    texts = [sarcasm.texts[i] for i in np.flatnonzero(sarcasm.calibration)]
    labels = list(sarcasm.sarcastic[sarcasm.calibration])
    vader_texts, _, _, vader_held = vader_ground_truth(data)
    texts += [vader_texts[i] for i in np.flatnonzero(vader_held.calibration)]
    labels += [0] * int(vader_held.calibration.sum())
    val_texts, _ = tweeteval(data, "sentiment", "val")
    semeval_texts, _, _ = semeval_sentiment(data, val_texts)
    sarcastic_keys = semeval_sarcasm_keys(data)
    for i in np.flatnonzero(semeval_held_back(len(semeval_texts)).calibration):
        if tweet_key(semeval_texts[i]) not in sarcastic_keys:
            texts.append(semeval_texts[i])
            labels.append(0)
    return texts, np.array(labels, dtype=np.int64)


def irony_margin(checkpoint: Checkpoint, texts: list[str]) -> np.ndarray:
    """float [n]: log p(irony) - log p(non_irony) of the uncalibrated head."""
    featurizer, model = checkpoint.featurizer, checkpoint.model
    model.task(TASK).calibration = {}
    scores = predict(model, featurizer.featurize(decode_texts(featurizer, texts)))[TASK]
    probs = np.clip(scores, 1e-7, 1.0)
    irony = model.task(TASK).classes.index("irony")
    return np.log(probs[:, irony]) - np.log(probs[:, 1 - irony])


def fit_calibration(margin: np.ndarray, y: np.ndarray, share: float) -> tuple[float, float]:
    """Temperature and bias of the irony logit: weighted logistic regression of ``y`` on the
    margin, the sarcastic items weighted to ``share`` of the total weight."""
    weights = np.where(y == 1, share / (1 - share) * np.sum(y == 0) / max(1, np.sum(y == 1)), 1.0)
    fit = LogisticRegression(C=1e4).fit(margin[:, None], y, sample_weight=weights)
    return 1.0 / float(fit.coef_[0, 0]), float(fit.intercept_[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--model", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("--out", type=Path, help="calibrated checkpoint (default: --model)")
    parser.add_argument("--share", type=float, default=SARCASM_SHARE)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    out = args.out or args.model
    if out != args.model:
        shutil.copytree(args.model, out, dirs_exist_ok=True)
    checkpoint = Checkpoint.load(out)
    texts, y = calibration_pool(args.data)
    margin = irony_margin(checkpoint, texts)
    temperature, bias = fit_calibration(margin, y, args.share)
    task = checkpoint.model.task(TASK)
    classes = task.classes
    task.calibration = {
        "temperature": round(temperature, 5),
        "bias": [round(bias, 5) if c == "irony" else 0.0 for c in classes],
    }
    flagged = 1 / (1 + np.exp(-(margin / temperature + bias))) > 0.5
    record = {
        "sarcasm_share": args.share,
        "items": len(y),
        "sarcastic_items": int(y.sum()),
        "flagged_before": {
            "sarcastic": round(float(np.mean(margin[y == 1] > 0)), 4),
            "sincere": round(float(np.mean(margin[y == 0] > 0)), 4),
        },
        "flagged_after": {
            "sarcastic": round(float(np.mean(flagged[y == 1])), 4),
            "sincere": round(float(np.mean(flagged[y == 0])), 4),
        },
    }
    checkpoint.model.config.meta["calibration"] = {TASK: record}
    save_model(checkpoint.model, out, torch.float16)
    log.info("temperature %.3f, bias %.3f: %s", temperature, bias, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
