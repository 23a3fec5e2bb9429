"""The social-media pipeline's metrics on the TweetEval validation splits, and `mmfuse evaluate`'s.

    python scripts/social_vs_evaluate.py --out out/social_vs_evaluate [--limit 500]

Writes the validation splits of sentiment, emotion and irony (``DATA/text/tweeteval``) as one
manifest (``id,text``) and one labels file (``id,sentiment,emotion,irony``, empty where a post
belongs to another split), then runs both, as a user would:

- ``mmfuse evaluate --model mmfuse-base --labels labels.csv --data posts.csv``;
- ``mmfuse run social-media posts.csv --no-cache``, scored from its ``results.csv``: the
  ``sentiment`` and ``emotion`` columns, and irony where ``sarcasm_prob`` > 0.5.

and prints TweetEval's metric of each task for both (irony: F1 of the ironic class; emotion:
macro-F1; sentiment: macro-recall). Exit status 1 when they differ. The shipped model was
trained on the sentiment validation split, so its sentiment number here is not a held-out
score (``eval_base.py`` cross-validates it); the comparison is about the two paths agreeing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from mmfuse import config
from mmfuse.cli import main as mmfuse
from mmfuse.fusion.evaluate import score
from mmfuse.tasks.social_media.scoring import NEGATIVE, NO_EMOTION
from mmfuse.tasks.social_media.summary import SARCASM_THRESHOLD

TASKS = ("sentiment", "emotion", "irony")
METRIC = {"sentiment": "macro_recall", "emotion": "macro_f1", "irony": "f1_irony"}
IRONY_CLASSES = ["non_irony", "irony"]


def write_inputs(data: Path, folder: Path, limit: int | None) -> tuple[Path, Path]:
    """posts.csv and labels.csv of the validation splits (the first ``limit`` of each)."""
    posts, labels = [], []
    for task in TASKS:
        split = data / "text" / "tweeteval" / task
        names = dict(line.split("\t") for line in (split / "mapping.txt").read_text().splitlines())
        texts = (split / "val_text.txt").read_text(encoding="utf-8").splitlines()[:limit]
        values = (split / "val_labels.txt").read_text().split()[:limit]
        for i, (text, value) in enumerate(zip(texts, values, strict=True)):
            post_id = f"{task}-{i}"
            posts.append({"id": post_id, "text": text})
            labels.append({"id": post_id, **dict.fromkeys(TASKS, ""), task: names[value]})
    folder.mkdir(parents=True, exist_ok=True)
    # plain csv: the tables mmfuse writes neutralise cells such as "@user ..." for
    # spreadsheets, which would change the posts read back as input
    for name, rows, columns in (
        ("posts", posts, ["id", "text"]),
        ("labels", labels, ["id", *TASKS]),
    ):
        with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, columns)
            writer.writeheader()
            writer.writerows(rows)
    return folder / "posts.csv", folder / "labels.csv"


def pipeline_metrics(results: Path, labels: Path, predictions: Path) -> dict[str, float]:
    """TweetEval's metric per task from the pipeline's results.csv.

    The pipeline writes ``NO_EMOTION`` where the sentiment reads neutral (TweetEval's emotion
    classes have no such class), and the emotion a sarcastic complaint means where the head
    reads its literal words' joy (``intended_emotions``): those posts take the emotion head's
    class, which ``mmfuse evaluate`` wrote in ``predictions`` (``emotion_predicted``), so that
    both paths score the same head.
    """
    with open(results, encoding="utf-8", newline="") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    with open(predictions, encoding="utf-8", newline="") as stream:
        head = {row["id"]: row.get("emotion_predicted", "") for row in csv.DictReader(stream)}
    for key, row in rows.items():
        meant = row["sentiment"] == NEGATIVE and float(row["sarcasm_prob"]) >= SARCASM_THRESHOLD
        if row["emotion"] == NO_EMOTION or meant:
            row["emotion"] = head.get(key, row["emotion"])
    with open(labels, encoding="utf-8", newline="") as stream:
        truth = list(csv.DictReader(stream))
    if failed := [r["id"] for r in rows.values() if r["error"]]:
        raise SystemExit(f"{len(failed)} posts failed in the pipeline, e.g. {failed[0]}")
    metrics = {}
    for task in TASKS:
        labelled = [r for r in truth if r[task]]
        if task == "irony":
            classes = IRONY_CLASSES
            guesses = [
                "irony" if float(rows[r["id"]]["sarcasm_prob"]) > 0.5 else "non_irony"
                for r in labelled
            ]
        else:
            guesses = [rows[r["id"]][task] for r in labelled]
            classes = sorted({r[task] for r in labelled} | set(guesses))
        y = np.array([classes.index(r[task]) for r in labelled])
        one_hot = np.eye(len(classes))[[classes.index(g) for g in guesses]]
        metrics[task] = float(score(task, y, one_hot, classes).metrics[METRIC[task]])
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--out", type=Path, required=True, help="working folder")
    parser.add_argument("--model", default="mmfuse-base")
    parser.add_argument("--limit", type=int, help="first N posts of each split (default: all)")
    args = parser.parse_args(argv)
    posts, labels = write_inputs(args.data, args.out, args.limit)
    evaluation = args.out / "evaluate"
    common = ["--model", args.model]
    if code := mmfuse(
        [
            "evaluate",
            *common,
            "--labels",
            str(labels),
            "--data",
            str(posts),
            "--out",
            str(evaluation),
        ]
    ):
        return code
    if code := mmfuse(
        [
            "--quiet",
            "run",
            "social-media",
            str(posts),
            "-o",
            str(args.out / "run"),
            *common,
            "--no-cache",
            "--overwrite",
        ]
    ):
        return code
    evaluated = json.loads((evaluation / "metrics.json").read_text())
    piped = pipeline_metrics(
        args.out / "run" / "results.csv", labels, evaluation / "predictions.csv"
    )
    report = {t: {"evaluate": evaluated[t][METRIC[t]], "pipeline": piped[t]} for t in TASKS}
    (args.out / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    for task, pair in report.items():
        same = "equal" if pair["evaluate"] == pair["pipeline"] else "DIFFERENT"
        print(
            f"{task:9} {METRIC[task]:12} evaluate {pair['evaluate']:.4f}  "
            f"pipeline {pair['pipeline']:.4f}  {same}"
        )
    return 0 if all(p["evaluate"] == p["pipeline"] for p in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
