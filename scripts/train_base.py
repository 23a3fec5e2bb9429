"""Trains ``mmfuse-base``, the shipped text checkpoint, on the development data (reproducible).

    python scripts/train_base.py --data ../shared/data --out src/mmfuse/checkpoints/mmfuse-base

Tasks and training data (``DATA/text``; readers in ``base_data.py``):

- sentiment (negative, neutral, positive): the SemEval 2013-2016 Task 4A tweets (the pool
  TweetEval's sentiment splits were drawn from) without the TweetEval sentiment validation
  tweets, so that split stays unseen; and the sarcastic iSarcasmEval tweets (outside its
  held-out fifth) labelled with the *intended* sentiment: what ``rephrase_teacher``, fitted on
  the SemEval tweets, reads in the author's own plain rephrase of the tweet.
- valence, a score in [-1, 1]: the VADER ground truth, 23,699 snippets (tweets, movie and
  product reviews, editorials) rated -4..+4 by humans, divided by 4. Mapped to three classes
  with a neutral band and added to the sentiment task, these snippets lowered the sentiment
  macro-recall by 1 to 9 points (their neutral is not TweetEval's), so they teach a
  regression task instead, which the sentiment head sees through the stacked tokens.
- emotion: TweetEval emotion train (anger, joy, optimism, sadness).
- irony: TweetEval irony train (non_irony, irony) and the iSarcasmEval authors' own labels
  (sarcastic or not) of the same iSarcasmEval tweets.
- offensive, hate: the TweetEval offensive and hate train splits (``--with-hate-offensive``).

The validation splits of emotion and irony are never trained on: early stopping and every
choice use a held-out part of the training splits (``FitOptions.holdout``). Seeds are fixed,
so two runs on the same machine give the same checkpoint. Encoder outputs are cached, so a
second run skips encoding.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from base_data import classes_of, isarcasmeval, semeval_sentiment, tweeteval

from mmfuse import config
from mmfuse.fusion.metrics import MISSING
from mmfuse.fusion.train import TrainOptions
from mmfuse.io.writers import write_json
from mmfuse.tasks.social_media.bow import TfidfFeatures
from mmfuse.tasks.social_media.featurize import Decoded, Featurizer, FeaturizerConfig
from mmfuse.tasks.social_media.fit import Checkpoint, FitOptions, fit_many_shot
from mmfuse.tasks.social_media.stack import BOW_C, EMBEDDING_C, TUNED, fit_task
from mmfuse.tasks.social_media.tune import TuneOptions
from mmfuse.types import Item

log = logging.getLogger("train_base")

VADER_FILES = (
    "tweets_GroundTruth.txt",
    "movieReviewSnippets_GroundTruth.txt",
    "amazonReviewSnippets_GroundTruth.txt",
    "nytEditorialSnippets_GroundTruth.txt",
)
VALENCE_SCALE = 4.0  # VADER ground-truth ratings lie in -4..+4
VALENCE_RANGE = (-1.0, 1.0)
SENTIMENT_CLASSES = ["negative", "neutral", "positive"]
# Zero-shot prompts "class: description" (written once, never tuned on any split).
DESCRIPTIONS = {
    "sentiment": {
        "negative": "a negative post expressing displeasure, anger, sadness or criticism",
        "neutral": "a neutral, factual post without an opinion",
        "positive": "a positive post expressing happiness, praise, love or excitement",
    },
    "emotion": {
        "anger": "an angry, furious, annoyed or outraged post",
        "joy": "a joyful, happy, delighted or amused post",
        "optimism": "a hopeful, optimistic post looking forward to the future",
        "sadness": "a sad, depressed, lonely or grieving post",
    },
    "irony": {
        "non_irony": "a sincere post that means what it says",
        "irony": "an ironic or sarcastic post that means the opposite of what it says",
    },
    "offensive": {
        "not-offensive": "a polite, inoffensive post",
        "offensive": "an offensive, insulting or profane post",
    },
    "hate": {
        "not-hate": "a post without hate speech",
        "hate": "a hateful post attacking immigrants or women",
    },
}
SEED = 0
# Inputs: the text embedding and the two stacked tokens (``Featurizer``). No self-attention
# layer: on a few thousand posts, layers overfit within two epochs. Modality dropout (0.3)
# teaches every token to answer alone, so tokens of other media read as text (speech, images
# in the text space) get sensible answers too. A learning rate of 3e-4 gives smoother
# held-out curves than 1e-3 at equal scores. The offensive and hate tasks were left out: no
# gain on the held-out parts of train, 2 more minutes. (All compared on held-out parts of the
# TweetEval train splits, never on their validation splits.)
# Residual heads (``FitOptions.residual``): the classification heads start from the stacked
# models' mean, which on emotion scored above the plain head (validation 70.3 vs 64.0); the
# valence head stays plain (a valence prior weakened the ``sentiment_score``).
# Fine-tuned top layers (``FitOptions.tune``, the ``tuned`` stack): MiniLM's top two of six
# layers, two epochs. Tried on 2,000 SemEval tweets with the emotion, irony and sarcasm sets,
# one epoch already read emotion at 71.7 and irony at 66.0 (frozen stacks: 71.2 and 59.7).
# The residual heads start from the fine-tuned layers' reading alone (``prior_tokens``) and
# the fusion model is trained on the held-out items (``blend``): trained on out-of-fold
# tokens and starting from the mean of the three stacks, it sided with the two linear readers
# on sarcastic posts (sarcastic tweets read with their rephrase's sentiment: 68 %; 2 of 5
# sarcastic complaints written for the check read negative, against 5 of 5 now).
FIT_OPTIONS = FitOptions(
    model={"n_layers": 0},
    value_ranges={"valence": VALENCE_RANGE},
    residual=("sentiment", "emotion", "irony"),
    tune=TuneOptions(layers=2, epochs=2, seed=SEED),
    prior_tokens=(TUNED,),
    blend=True,
    train=TrainOptions(
        epochs=40,
        batch_size=128,
        learning_rate=3e-4,
        patience=8,
        modality_dropout=0.3,
        balance_classes=True,
        seed=SEED,
    ),
    seed=SEED,
)


def vader_ground_truth(data: Path) -> tuple[list[str], np.ndarray]:
    """VADER ground-truth snippets and their mean human valence divided by 4, in [-1, 1]."""
    texts, values = [], []
    for name in VADER_FILES:
        lines = (data / "text" / "vader_groundtruth" / name).read_text(
            encoding="utf-8", errors="replace"
        )
        for line in lines.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or not parts[2].strip():
                continue
            texts.append(parts[2])
            values.append(float(parts[1]) / VALENCE_SCALE)
    return texts, np.array(values, dtype=np.float32)


def rephrase_teacher(
    featurizer: Featurizer, texts: list[str], labels: list[str]
) -> Callable[[list[str]], np.ndarray]:
    """A plain-text sentiment reader: the mean of two class-balanced logistic regressions
    (TF-IDF n-grams; sentence embedding + lexical features) fitted on labelled tweets.

    It reads the authors' plain rephrases of their sarcastic tweets, whose sentiment is the
    intended one; returns texts -> float32 [n, 3] probabilities in ``SENTIMENT_CLASSES`` order.
    """
    y = np.array([SENTIMENT_CLASSES.index(v) for v in labels])
    prepared = [featurizer.prepare(t) for t in texts]
    tfidf = TfidfFeatures()
    bow = fit_task(tfidf.fit_transform(prepared), y, SENTIMENT_CLASSES, BOW_C)
    dense = fit_task(featurizer.dense(texts, prepared), y, SENTIMENT_CLASSES, EMBEDDING_C)

    def read(plain: list[str]) -> np.ndarray:
        ready = [featurizer.prepare(t) for t in plain]
        return (
            bow.predict(tfidf.transform(ready)) + dense.predict(featurizer.dense(plain, ready))
        ) / 2

    return read


def training_set(
    data: Path, featurizer: Featurizer, hate_offensive: bool = False
) -> tuple[list[str], dict[str, np.ndarray], dict[str, list[str]], dict]:
    """All training texts, labels per task, class names (``[]`` for valence) and counts.

    Sentiment: the SemEval tweets without the TweetEval validation ones, and the sarcastic
    iSarcasmEval tweets (outside the held-out fifth) labelled with the sentiment that
    ``rephrase_teacher`` reads in their authors' rephrases. Irony: TweetEval irony train and
    the author labels of the same iSarcasmEval tweets. Emotion: TweetEval emotion train.
    Valence: the VADER ground truth.

    Returns:
        Texts, task -> labels (class indices with ``MISSING``, or valence with NaN, where a
        text is not labelled for the task), task -> class names, counts of each source.
    """
    tasks = ["sentiment", "emotion", "irony"] + (["offensive", "hate"] if hate_offensive else [])
    classes = {t: SENTIMENT_CLASSES if t == "sentiment" else classes_of(data, t) for t in tasks}
    val_texts, _ = tweeteval(data, "sentiment", "val")
    semeval_texts, semeval_labels, dropped = semeval_sentiment(data, val_texts)
    sarcasm = isarcasmeval(data)
    train = np.flatnonzero(~sarcasm.held_out)
    sarcastic = [i for i in train if sarcasm.sarcastic[i]]
    teacher = rephrase_teacher(featurizer, semeval_texts, semeval_labels)
    intended = teacher([sarcasm.rephrases[i] for i in sarcastic]).argmax(axis=1)
    intended_of = dict(zip(sarcastic, intended, strict=True))
    rows: list[tuple[str, dict[str, int]]] = [
        (t, {"sentiment": SENTIMENT_CLASSES.index(v)})
        for t, v in zip(semeval_texts, semeval_labels, strict=True)
    ]
    for i in train:
        target = {"irony": int(sarcasm.sarcastic[i])}
        if i in intended_of:
            target["sentiment"] = int(intended_of[i])
        rows.append((sarcasm.texts[i], target))
    for task in tasks[1:]:
        index = {c: i for i, c in enumerate(classes[task])}
        for text, label in zip(*tweeteval(data, task, "train"), strict=True):
            if text.strip():  # 7 blank tweets in hate's train split
                rows.append((text, {task: index[label]}))
    texts = [text for text, _ in rows]
    out = {t: np.array([r.get(t, MISSING) for _, r in rows], dtype=np.int64) for t in tasks}
    vader_texts, valence = vader_ground_truth(data)
    out = {t: np.r_[v, np.full(len(vader_texts), MISSING)] for t, v in out.items()}
    out["valence"] = np.r_[np.full(len(texts), np.nan, np.float32), valence]
    classes["valence"] = []
    counts = {
        "semeval_tweets": len(semeval_texts),
        "semeval_removed_as_tweeteval_validation": dropped,
        "isarcasmeval_tweets": len(train),
        "isarcasmeval_sarcastic_with_rephrase_sentiment": len(sarcastic),
        "rephrase_sentiment": {
            c: int(np.sum(intended == i)) for i, c in enumerate(SENTIMENT_CLASSES)
        },
    }
    return texts + vader_texts, out, classes, counts


def decode_texts(featurizer: Featurizer, texts: list[str]) -> list[Decoded]:
    """Texts decoded as manifest items are (``Featurizer.decode``), so that training,
    evaluation and ``mmfuse run`` on a manifest of the same texts see the same input."""
    return [featurizer.decode(Item(str(i), text=t)) for i, t in enumerate(texts)]


def train_base(
    data: Path, hate_offensive: bool = False, options: FitOptions | None = None
) -> tuple[Checkpoint, dict]:
    """Trains the base model; returns it and a record of the run (data sizes, epochs, time)."""
    started = time.perf_counter()
    # Media tokens stay unit vectors: the social task reads them through the text projection.
    featurizer = Featurizer(FeaturizerConfig(text=True, unit_variance_media=False))
    texts, labels, classes, counts = training_set(data, featurizer, hate_offensive)
    options = options or FIT_OPTIONS
    checkpoint, history = fit_many_shot(
        featurizer,
        decode_texts(featurizer, texts),
        labels,
        classes,
        {t: DESCRIPTIONS[t] for t in classes if t in DESCRIPTIONS},
        options,
        lambda r: log.info(
            "epoch %d: train loss %.4f, held-out loss %.4f",
            r.epoch,
            r.train_loss,
            r.val_loss or 0.0,
        ),
    )
    best = history.epochs[history.best_epoch - 1]
    record = {
        "sources": counts,
        "items": {t: int(np.sum(np.isfinite(v) & (v != MISSING))) for t, v in labels.items()},
        "best_epoch": history.best_epoch,
        "epochs": len(history.epochs),
        "holdout_metrics": {
            t: {k: v for k, v in m.items() if k != "confusion"} for t, m in best.val_metrics.items()
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    return checkpoint, record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--with-hate-offensive", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    checkpoint, record = train_base(args.data, args.with_hate_offensive)
    checkpoint.model.config.meta.update({"trained_by": "scripts/train_base.py", "training": record})
    checkpoint.save(args.out, dtype=torch.float16)
    write_json(record, args.out / "training.json")
    log.info("saved %s in %.0f s", args.out, record["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
