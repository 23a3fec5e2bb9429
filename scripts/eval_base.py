"""Zero-, few- and many-shot scores of ``mmfuse-base`` on the TweetEval validation splits.

    python scripts/eval_base.py --data ../shared/data \\
        --model src/mmfuse/checkpoints/mmfuse-base --out src/mmfuse/checkpoints/mmfuse-base

Metrics are TweetEval's: irony F1 of the ironic class, emotion macro-F1, sentiment
macro-recall, next to the leaderboard's (test split; ``LEADERBOARD``).

- zero-shot: the untrained fusion model (it passes the text embedding through) with class
  vectors from the class descriptions of ``train_base.DESCRIPTIONS``.
- few-shot (k = 5, 20): class vectors from k examples per class of the task's train split
  (sentiment: of the SemEval tweets without the validation ones), blended with the
  descriptions; no gradient step; mean and standard deviation over ``FEW_SHOT_SEEDS`` draws.
- many-shot: the checkpoint on the validation splits, which it never saw (``train_base``
  removes the sentiment validation tweets from the SemEval tweets it trains on). Emotion
  also as the social task writes it (``many_shot_as_written``: a sarcastic complaint gets
  the emotion it means, ``social_scoring.intended_emotions``; TweetEval's labels are literal).
- iSarcasmEval, the held-out fifth of its training tweets (``sarcasm_scores``): F1 of the
  sarcastic class and the share of sarcastic tweets read with their rephrase's sentiment;
  ``--before`` scores a previous checkpoint the same way.

Writes ``evaluation.json`` (what the README and the model card quote) into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

# the sibling script (``python scripts/eval_base.py`` puts scripts/ first on sys.path)
from base_data import classes_of, isarcasmeval, semeval_sentiment, tweeteval
from train_base import DESCRIPTIONS, SENTIMENT_CLASSES, decode_texts

from mmfuse import config
from mmfuse.fusion.evaluate import score
from mmfuse.fusion.inference import predict
from mmfuse.io.writers import write_json
from mmfuse.tasks.social_media.featurize import Featurizer
from mmfuse.tasks.social_media.fit import Checkpoint, fit_few_shot, zero_shot
from mmfuse.tasks.social_media.scoring import intended_emotions

log = logging.getLogger("eval_base")

# TweetEval leaderboard, test split (Barbieri et al. 2020, Table 2 and the repository README).
LEADERBOARD = {
    "irony": {"metric": "f1_irony", "SVM": 61.7, "RoBERTa-base": 59.7, "BERTweet": 82.1},
    "emotion": {"metric": "macro_f1", "SVM": 64.7, "RoBERTa-base": 76.1},
    "sentiment": {"metric": "macro_recall", "SVM": 62.9, "RoBERTa-base": 71.3},
}
SHOTS = (5, 20)
FEW_SHOT_SEEDS = (0, 1, 2, 3, 4)


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
    predictions = predict(checkpoint.model, base_inputs)
    out["many_shot"] = metric(task, query[1], predictions[task], classes)
    if task == "emotion":  # the column as the social task writes it
        meant = intended_emotions(checkpoint.model, predictions)
        out["many_shot_as_written"] = metric(task, query[1], meant, classes)
    return out


def evaluate_sentiment(featurizer, checkpoint, data) -> dict:
    """Zero-, few- and many-shot scores on the sentiment validation split, which the model
    never saw (``train_base`` removes its tweets from the SemEval training tweets)."""
    task, classes = "sentiment", SENTIMENT_CLASSES
    val_texts, val_labels = tweeteval(data, task, "val")
    pool_texts, pool_labels, _ = semeval_sentiment(data, val_texts)
    support = (decode_texts(featurizer, pool_texts), indices(pool_labels, classes))
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


def sarcasm_scores(checkpoint, data) -> dict:
    """The iSarcasmEval held-out fifth (``base_data.isarcasmeval``), never trained on.

    - ``f1_sarcastic``: F1 of the sarcastic class, sarcastic when the irony probability > 0.5.
    - ``agrees_with_rephrase``: share of the sarcastic tweets whose sentiment is the one the
      same model gives their authors' plain rephrase (the intended sentiment).
    - ``sarcastic_read_negative``: share of the sarcastic tweets read negative.
    """
    sarcasm = isarcasmeval(data)
    held = np.flatnonzero(sarcasm.held_out)
    featurizer, model = checkpoint.featurizer, checkpoint.model

    def run(texts: list[str]) -> dict[str, np.ndarray]:
        return predict(model, featurizer.featurize(decode_texts(featurizer, texts)))

    tweets = run([sarcasm.texts[i] for i in held])
    y = sarcasm.sarcastic[held]
    flagged = tweets["irony"][:, model.task("irony").classes.index("irony")] > 0.5
    sarcastic = np.flatnonzero(y == 1)
    rephrases = run([sarcasm.rephrases[held[i]] for i in sarcastic])
    meant = tweets["sentiment"][sarcastic].argmax(axis=1)
    plain = rephrases["sentiment"].argmax(axis=1)
    negative = model.task("sentiment").classes.index("negative")
    return {
        "n": len(held),
        "n_sarcastic": len(sarcastic),
        "f1_sarcastic": round(200 * np.sum(flagged & (y == 1)) / (flagged.sum() + y.sum()), 2),
        "agrees_with_rephrase": round(100 * float(np.mean(meant == plain)), 2),
        "sarcastic_read_negative": round(100 * float(np.mean(meant == negative)), 2),
        "rephrase_read_negative": round(100 * float(np.mean(plain == negative)), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--model", default="mmfuse-base", help="checkpoint name or folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for evaluation.json")
    parser.add_argument(
        "--before", help="a previous checkpoint (name or folder) scored on iSarcasmEval too"
    )
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
    results["tasks"]["sentiment"] = evaluate_sentiment(featurizer, checkpoint, args.data)
    log.info("sentiment: %s", results["tasks"]["sentiment"])
    results["isarcasmeval_held_out"] = sarcasm_scores(checkpoint, args.data)
    if args.before:
        results["isarcasmeval_held_out_before"] = sarcasm_scores(
            Checkpoint.load(args.before), args.data
        )
    log.info("iSarcasmEval: %s", results["isarcasmeval_held_out"])
    write_json(results, args.out / "evaluation.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
