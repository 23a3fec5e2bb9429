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
  the emotion it means, ``scoring.intended_emotions``, and a post read neutral gets none,
  ``scoring.NO_EMOTION``; TweetEval's labels are literal and all of them an emotion).
- both readings (``reading_scores``), literal and as meant (``scoring.meant_sentiment``),
  on data never trained on: TweetEval sentiment validation, the measuring halves of the
  held-back VADER snippets and SemEval tweets (share of positive snippets read negative,
  share flagged sarcastic), the iSarcasmEval held-out fifth (F1 of the sarcastic class, share
  of sarcastic tweets read with their rephrase's sentiment), the customer-service and
  everyday posts written for this project (``base_data.written_posts``) and the plain
  sentences of ``tests/data/plain_sentences.csv``. ``--before`` scores a previous checkpoint
  as it was shipped (``--before-as-shipped``: its sentiment head already read as meant, no
  rule). ``--few-shot-from`` copies the zero- and few-shot numbers (they do not depend on
  the checkpoint) from an earlier ``evaluation.json``.

Writes ``evaluation.json`` (what the README and the model card quote) into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch

# the sibling script (``python scripts/eval_base.py`` puts scripts/ first on sys.path)
from base_data import (
    VADER_FILES,
    VALENCE_SCALE,
    classes_of,
    isarcasmeval,
    semeval_held_back,
    semeval_sarcasm_keys,
    semeval_sentiment,
    tweet_key,
    tweeteval,
    vader_ground_truth,
    written_posts,
)
from sklearn.metrics import f1_score
from train_base import CLEAR_RATING, DESCRIPTIONS, SENTIMENT_CLASSES, decode_texts

from mmfuse import config
from mmfuse.fusion.evaluate import score
from mmfuse.fusion.inference import predict
from mmfuse.io.writers import write_json
from mmfuse.tasks.social_media.featurize import Featurizer
from mmfuse.tasks.social_media.fit import Checkpoint, fit_few_shot, zero_shot
from mmfuse.tasks.social_media.scoring import intended_emotions, meant_sentiment

log = logging.getLogger("eval_base")

# TweetEval leaderboard, test split (Barbieri et al. 2020, Table 2 and the repository README).
LEADERBOARD = {
    "irony": {"metric": "f1_irony", "SVM": 61.7, "RoBERTa-base": 59.7, "BERTweet": 82.1},
    "emotion": {"metric": "macro_f1", "SVM": 64.7, "RoBERTa-base": 76.1},
    "sentiment": {"metric": "macro_recall", "SVM": 62.9, "RoBERTa-base": 71.3},
}
PLAIN_SENTENCES = Path(__file__).resolve().parents[1] / "tests" / "data" / "plain_sentences.csv"
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
    if task == "emotion":
        out["many_shot_as_written"] = emotion_as_written(
            checkpoint, val_texts, predictions, query[1]
        )
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


def many_shot_only(featurizer, checkpoint, data, task, earlier: dict) -> dict:
    """The checkpoint's scores on a validation split, the zero- and few-shot ones copied from
    ``earlier`` (they depend on the frozen encoder and the data, not on the checkpoint)."""
    classes = SENTIMENT_CLASSES if task == "sentiment" else classes_of(data, task)
    texts, labels = tweeteval(data, task, "val")
    predictions = predict(
        checkpoint.model, checkpoint.featurizer.featurize(decode_texts(featurizer, texts))
    )
    out = {k: v for k, v in earlier.items() if not k.startswith("many_shot")}
    out["many_shot"] = metric(task, indices(labels, classes), predictions[task], classes)
    if task == "emotion":
        y = indices(labels, classes)
        out["many_shot_as_written"] = emotion_as_written(checkpoint, texts, predictions, y)
    return out


def emotion_as_written(checkpoint, texts: list[str], predictions: dict, y: np.ndarray) -> float:
    """Emotion macro-F1 of the column the social task writes: a post read against its words
    loses its positive emotions (``intended_emotions``), and a post whose sentiment as meant
    reads neutral gets ``NO_EMOTION``, which is none of TweetEval's classes and so always
    wrong."""
    model = checkpoint.model
    meant = meant_sentiment(checkpoint, texts, predictions)
    said = intended_emotions(model, predictions["emotion"], meant.flipped).argmax(1)
    neutral = model.task("sentiment").classes.index("neutral")
    said[meant.sentiment.argmax(1) == neutral] = -1
    classes = list(range(len(model.task("emotion").classes)))
    return round(100 * f1_score(y, said, labels=classes, average="macro", zero_division=0), 2)


class Reader:
    """A checkpoint's readings of texts: literal sentiment, sentiment as meant, sarcasm.

    ``as_shipped``: a checkpoint whose sentiment head already reads as meant (v2): both
    readings are that head's, nothing is flipped.
    """

    def __init__(self, checkpoint: Checkpoint, as_shipped: bool = False):
        self.checkpoint, self.as_shipped = checkpoint, as_shipped
        model = checkpoint.model
        self.irony = model.task("irony").classes.index("irony")
        self.negative = model.task("sentiment").classes.index("negative")
        self.positive = model.task("sentiment").classes.index("positive")

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        featurizer, model = self.checkpoint.featurizer, self.checkpoint.model
        scores = predict(model, featurizer.featurize(decode_texts(featurizer, texts)))
        literal = scores["sentiment"]
        meant = literal if self.as_shipped else meant_sentiment(self.checkpoint, texts, scores)
        return {
            "literal": literal,
            "meant": literal if self.as_shipped else meant.sentiment,
            "flipped": np.zeros(len(texts), bool) if self.as_shipped else meant.flipped,
            "sarcasm": scores["irony"][:, self.irony],
        }


def _percent(values) -> float:
    return round(100 * float(np.mean(values)), 2) if len(values) else float("nan")


def _readings_of(read: Reader, texts: list[str], labels: list[str] | None) -> dict:
    """Macro-recall of both readings (with labels), positives read negative, flagged share."""
    out = read(texts)
    result = {
        "n": len(texts),
        "flagged_sarcastic": _percent(out["sarcasm"] > 0.5),
        "flipped": _percent(out["flipped"]),
    }
    if labels is not None:
        y = indices(labels, SENTIMENT_CLASSES)
        for name in ("literal", "meant"):
            result[f"macro_recall_{name}"] = metric("sentiment", y, out[name], SENTIMENT_CLASSES)
        positive = y == SENTIMENT_CLASSES.index("positive")
        result["positive_read_negative"] = _percent(
            out["meant"][positive].argmax(axis=1) == read.negative
        )
        result["positive_flagged_sarcastic"] = _percent(out["sarcasm"][positive] > 0.5)
    return result


def reading_scores(read: Reader, data: Path) -> dict:
    """Both readings and the sarcasm flag on sets never trained on (see the module docstring)."""
    results = {}
    val_texts, val_labels = tweeteval(data, "sentiment", "val")
    results["tweeteval_sentiment_val"] = _readings_of(read, val_texts, val_labels)
    vader_texts, valence, files, held = vader_ground_truth(data)
    clear = CLEAR_RATING / VALENCE_SCALE
    vader = {}
    for index, name in [(-1, "all"), *enumerate(VADER_FILES)]:
        rows = np.flatnonzero(held.measuring & ((files == index) | (index < 0)))
        out = read([vader_texts[i] for i in rows])
        positive, negative = valence[rows] >= clear, valence[rows] <= -clear
        vader[name.split("_")[0]] = {
            "n": len(rows),
            "n_positive": int(positive.sum()),
            "positive_read_negative": _percent(out["meant"][positive].argmax(1) == read.negative),
            "positive_read_negative_literal": _percent(
                out["literal"][positive].argmax(1) == read.negative
            ),
            "negative_read_positive": _percent(out["meant"][negative].argmax(1) == read.positive),
            "flagged_sarcastic": _percent(out["sarcasm"] > 0.5),
            "positive_flagged_sarcastic": _percent(out["sarcasm"][positive] > 0.5),
            "flipped": _percent(out["flipped"]),
        }
    results["vader_held_back"] = vader
    semeval_texts, semeval_labels, _ = semeval_sentiment(data, val_texts)
    keys = semeval_sarcasm_keys(data)
    rows = [
        i
        for i in np.flatnonzero(semeval_held_back(len(semeval_texts)).measuring)
        if tweet_key(semeval_texts[i]) not in keys
    ]
    results["semeval_held_back"] = _readings_of(
        read, [semeval_texts[i] for i in rows], [semeval_labels[i] for i in rows]
    )
    results["isarcasmeval_held_out"] = isarcasm_readings(read, data)
    results["written_posts"] = written_readings(read)
    results["plain_sentences"] = plain_sentence_scores(read)
    return results


def isarcasm_readings(read: Reader, data: Path) -> dict:
    """The held-out fifth: sarcasm F1 at 0.5, sincere tweets flagged, sarcastic tweets read
    as meant (the sentiment the literal reading gives their authors' rephrases)."""
    sarcasm = isarcasmeval(data)
    held = np.flatnonzero(sarcasm.held_out)
    out = read([sarcasm.texts[i] for i in held])
    y = sarcasm.sarcastic[held]
    flagged = out["sarcasm"] > 0.5
    sarcastic = np.flatnonzero(y == 1)
    plain = read([sarcasm.rephrases[held[i]] for i in sarcastic])["literal"].argmax(1)
    meant = out["meant"][sarcastic].argmax(1)
    best = max(
        (2 * np.sum((out["sarcasm"] > t) & (y == 1)) / (np.sum(out["sarcasm"] > t) + y.sum()), t)
        for t in np.linspace(0.01, 0.99, 99)
    )
    return {
        "n": len(held),
        "n_sarcastic": len(sarcastic),
        "f1_sarcastic": round(200 * np.sum(flagged & (y == 1)) / (flagged.sum() + y.sum()), 2),
        "best_f1_sarcastic": round(100 * float(best[0]), 2),
        "best_threshold": round(float(best[1]), 2),
        "sincere_flagged": _percent(flagged[y == 0]),
        "sarcastic_flagged": _percent(flagged[y == 1]),
        "agrees_with_rephrase": _percent(meant == plain),
        "sarcastic_read_negative": _percent(meant == read.negative),
        "rephrase_read_negative": _percent(plain == read.negative),
    }


def written_readings(read: Reader) -> dict:
    """The written posts, per domain: the sincere ones' sentiment as meant (macro-recall,
    positives read negative, share flagged), the sarcastic ones read negative and flagged."""
    written = written_posts()
    result = {}
    for domain in np.unique(written.domain):
        sincere = np.flatnonzero((written.domain == domain) & (written.sarcastic == 0))
        reading = _readings_of(
            read, [written.texts[i] for i in sincere], list(written.sentiment[sincere])
        )
        sarcastic = np.flatnonzero((written.domain == domain) & (written.sarcastic == 1))
        out = read([written.texts[i] for i in sarcastic])
        reading["sarcastic"] = {
            "n": len(sarcastic),
            "flagged_sarcastic": _percent(out["sarcasm"] > 0.5),
            "read_negative": _percent(out["meant"].argmax(1) == read.negative),
        }
        result[str(domain)] = reading
    return result


def plain_sentence_scores(read: Reader) -> dict:
    """Agreement with the polarity a person gives the plain sentences, per kind."""
    with open(PLAIN_SENTENCES, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    out = read([r["text"] for r in rows])
    said = [SENTIMENT_CLASSES[i] for i in out["meant"].argmax(1)]
    agree = np.array([s == r["polarity"] for s, r in zip(said, rows, strict=True)])
    kinds = sorted({r["kind"] for r in rows})
    result = {"n": len(rows), "agreement": _percent(agree)}
    for kind in kinds:
        members = [i for i, r in enumerate(rows) if r["kind"] == kind]
        result[kind] = {
            "n": len(members),
            "agreement": _percent(agree[members]),
            "flagged_sarcastic": _percent(out["sarcasm"][members] > 0.5),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--model", default="mmfuse-base", help="checkpoint name or folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for evaluation.json")
    parser.add_argument(
        "--before", help="a previous checkpoint (name or folder) scored on iSarcasmEval too"
    )
    parser.add_argument(
        "--before-as-shipped",
        action="store_true",
        help="--before's sentiment head reads as meant already (v2): no flip rule",
    )
    parser.add_argument(
        "--few-shot-from", type=Path, help="an evaluation.json whose zero/few-shot numbers to keep"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    featurizer = Featurizer()
    checkpoint = Checkpoint.load(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"leaderboard_test_split": LEADERBOARD, "tasks": {}}
    if args.few_shot_from:
        earlier = json.loads(args.few_shot_from.read_text())["tasks"]
        results["tasks"] = {
            task: many_shot_only(featurizer, checkpoint, args.data, task, earlier[task])
            for task in ("irony", "emotion", "sentiment")
        }
    else:
        for task in ("irony", "emotion"):
            results["tasks"][task] = evaluate_split_task(featurizer, checkpoint, args.data, task)
        results["tasks"]["sentiment"] = evaluate_sentiment(featurizer, checkpoint, args.data)
    log.info("tasks: %s", results["tasks"])
    results["readings"] = reading_scores(Reader(checkpoint), args.data)
    log.info("readings: %s", json.dumps(results["readings"]))
    if args.before:
        before = Checkpoint.load(args.before)
        results["readings_before"] = reading_scores(
            Reader(before, args.before_as_shipped), args.data
        )
        log.info("readings before: %s", json.dumps(results["readings_before"]))
    write_json(results, args.out / "evaluation.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
