"""Zero-, few- and many-shot scores of ``mmfuse-base`` on the TweetEval validation splits.

    python scripts/eval_base.py --data ../shared/data \\
        --model src/mmfuse/checkpoints/mmfuse-base --out src/mmfuse/checkpoints/mmfuse-base

Metrics are TweetEval's: irony F1 of the ironic class, emotion macro-F1, sentiment
macro-recall, next to the leaderboard's (test split; ``LEADERBOARD``).

- zero-shot: the untrained fusion model (it passes the text embedding through) with class
  vectors from the class descriptions of ``train_base.DESCRIPTIONS``.
- few-shot (k = 5, 20): class vectors from k examples per class of the task's train split
  (sentiment: of the other cross-validation folds), blended with the descriptions; no
  gradient step; mean and standard deviation over ``FEW_SHOT_SEEDS`` draws.
- many-shot: irony and emotion, the checkpoint on their validation splits, which it never
  saw. Sentiment, whose validation split the shipped model is trained on: ``SENTIMENT_FOLDS``-
  fold cross-validation, each fold scored by a model trained by ``train_base`` without it; the
  folds' predictions are pooled into one score.
- sarcasm-aware sentiment, a diagnostic: the many-shot sentiment of the folds with the
  positive probability of posts the irony head flags moved to negative (hard: irony
  probability > 0.5; soft: in proportion to it). It scores well below the plain head on
  TweetEval (whose annotators label the intended sentiment), so the pipeline does not flip.

Writes ``evaluation.json`` (what the README and the model card quote) into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

# the sibling script (``python scripts/eval_base.py`` puts scripts/ first on sys.path)
from train_base import (
    DESCRIPTIONS,
    SENTIMENT_CLASSES,
    classes_of,
    decode_texts,
    train_base,
    tweeteval,
)

from mmfuse import config
from mmfuse.fusion.evaluate import score
from mmfuse.fusion.featurize import Featurizer
from mmfuse.fusion.fit import Checkpoint, fit_few_shot, zero_shot
from mmfuse.fusion.inference import predict
from mmfuse.io.writers import write_json

log = logging.getLogger("eval_base")

# TweetEval leaderboard, test split (Barbieri et al. 2020, Table 2 and the repository README).
LEADERBOARD = {
    "irony": {"metric": "f1_irony", "SVM": 61.7, "RoBERTa-base": 59.7, "BERTweet": 82.1},
    "emotion": {"metric": "macro_f1", "SVM": 64.7, "RoBERTa-base": 76.1},
    "sentiment": {"metric": "macro_recall", "SVM": 62.9, "RoBERTa-base": 71.3},
}
SHOTS = (5, 20)
FEW_SHOT_SEEDS = (0, 1, 2, 3, 4)
SENTIMENT_FOLDS = 5
SEED = 0


def metric(task: str, y: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> float:
    """The task's TweetEval metric, in percent."""
    result = score(task, y, probabilities, classes)
    return round(100 * result.metrics[LEADERBOARD[task]["metric"]], 2)


def indices(labels: list[str], classes: list[str]) -> np.ndarray:
    position = {c: i for i, c in enumerate(classes)}
    return np.array([position[v] for v in labels], dtype=np.int64)


def few_shot_scores(featurizer, task, classes, support, query, k) -> list[float]:
    """The metric of few-shot models from ``k`` support examples per class, one per seed.

    Args:
        support: (decoded items, class indices) the examples are drawn from.
        query: (decoded items, class indices) scored.
    """
    inputs = featurizer.featurize(query[0])
    scores = []
    for seed in FEW_SHOT_SEEDS:
        checkpoint = fit_few_shot(
            featurizer,
            support[0],
            {task: support[1]},
            {task: classes},
            k,
            {task: DESCRIPTIONS[task]},
            seed,
        )
        scores.append(metric(task, query[1], predict(checkpoint.model, inputs)[task], classes))
    return scores


def summary(values: list[float]) -> dict:
    return {
        "mean": round(float(np.mean(values)), 2),
        "std": round(float(np.std(values)), 2),
        "runs": values,
    }


def evaluate_split_task(featurizer, checkpoint, data, task) -> dict:
    """Zero-, few- and many-shot scores of irony or emotion on its validation split."""
    classes = classes_of(data, task)
    train_texts, train_labels = tweeteval(data, task, "train")
    val_texts, val_labels = tweeteval(data, task, "val")
    support = (decode_texts(featurizer, train_texts), indices(train_labels, classes))
    query = (decode_texts(featurizer, val_texts), indices(val_labels, classes))
    zero = zero_shot(featurizer, {task: classes}, {task: DESCRIPTIONS[task]})
    out = {"n": len(val_texts)}
    out["zero_shot"] = metric(
        task, query[1], predict(zero.model, featurizer.featurize(query[0]))[task], classes
    )
    for k in SHOTS:
        out[f"few_shot_{k}"] = summary(
            few_shot_scores(featurizer, task, classes, support, query, k)
        )
    base_inputs = checkpoint.featurizer.featurize(decode_texts(checkpoint.featurizer, val_texts))
    out["many_shot"] = metric(task, query[1], predict(checkpoint.model, base_inputs)[task], classes)
    return out


def sarcasm_aware(probs: np.ndarray, irony: np.ndarray, classes: list[str], rule: str):
    """Sentiment probabilities with the positive reading of ironic posts moved to negative.

    hard: all of it where the irony probability exceeds 0.5; soft: that probability's share.
    """
    positive, negative = classes.index("positive"), classes.index("negative")
    share = (irony > 0.5).astype(np.float32) if rule == "hard" else irony
    moved = probs[:, positive] * share
    out = probs.copy()
    out[:, positive] -= moved
    out[:, negative] += moved
    return out


def evaluate_sentiment(featurizer, data, hate_offensive: bool) -> dict:
    """Cross-validated zero-, few- and many-shot scores on the sentiment validation split."""
    task, classes = "sentiment", SENTIMENT_CLASSES
    texts, labels = tweeteval(data, task, "val")
    y = indices(labels, classes)
    decoded = decode_texts(featurizer, texts)
    zero = zero_shot(featurizer, {task: classes}, {task: DESCRIPTIONS[task]})
    inputs = featurizer.featurize(decoded)
    out = {
        "n": len(texts),
        "zero_shot": metric(task, y, predict(zero.model, inputs)[task], classes),
    }
    folds = list(StratifiedKFold(SENTIMENT_FOLDS, shuffle=True, random_state=SEED).split(texts, y))
    for k in SHOTS:
        pooled = {seed: np.zeros((len(texts), len(classes)), np.float32) for seed in FEW_SHOT_SEEDS}
        for rest, held in folds:
            for seed in FEW_SHOT_SEEDS:
                checkpoint = fit_few_shot(
                    featurizer,
                    [decoded[i] for i in rest],
                    {task: y[rest]},
                    {task: classes},
                    k,
                    {task: DESCRIPTIONS[task]},
                    seed,
                )
                held_inputs = featurizer.featurize([decoded[i] for i in held])
                pooled[seed][held] = predict(checkpoint.model, held_inputs)[task]
        out[f"few_shot_{k}"] = summary([metric(task, y, p, classes) for p in pooled.values()])
    many = np.zeros((len(texts), len(classes)), np.float32)
    irony = np.zeros(len(texts), np.float32)  # the fold models' irony probability
    seconds = []
    for n, (_, held) in enumerate(folds, start=1):
        mask = np.zeros(len(texts), bool)
        mask[held] = True
        started = time.perf_counter()
        checkpoint, _ = train_base(data, mask, hate_offensive)
        seconds.append(round(time.perf_counter() - started))
        fold_inputs = checkpoint.featurizer.featurize(
            decode_texts(checkpoint.featurizer, [texts[i] for i in held])
        )
        predictions = predict(checkpoint.model, fold_inputs)
        many[held] = predictions[task]
        irony[held] = predictions["irony"][:, checkpoint.model.task("irony").classes.index("irony")]
        log.info("sentiment fold %d of %d done in %d s", n, len(folds), seconds[-1])
    out["many_shot"] = metric(task, y, many, classes)
    out["many_shot_sarcasm_aware"] = {
        rule: metric(task, y, sarcasm_aware(many, irony, classes, rule), classes)
        for rule in ("hard", "soft")
    }
    out["many_shot_protocol"] = f"{SENTIMENT_FOLDS}-fold cross-validation, predictions pooled"
    out["fold_training_seconds"] = seconds
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--model", default="mmfuse-base", help="checkpoint name or folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for evaluation.json")
    parser.add_argument("--with-hate-offensive", action="store_true", help="as in train_base")
    parser.add_argument("--skip-sentiment-cv", action="store_true", help="no sentiment retraining")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    featurizer = Featurizer()
    checkpoint = Checkpoint.load(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"leaderboard_test_split": LEADERBOARD, "tasks": {}}
    for task in ("irony", "emotion"):
        results["tasks"][task] = evaluate_split_task(featurizer, checkpoint, args.data, task)
        log.info("%s: %s", task, results["tasks"][task])
    if not args.skip_sentiment_cv:
        results["tasks"]["sentiment"] = evaluate_sentiment(
            featurizer, args.data, args.with_hate_offensive
        )
        log.info("sentiment: %s", results["tasks"]["sentiment"])
    write_json(results, args.out / "evaluation.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
