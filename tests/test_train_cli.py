"""``mmfuse train`` and ``mmfuse evaluate`` end to end on synthetic posts and a tiny text model.

The tiny model is a random-weight BERT saved as a sentence-transformers folder in tmp_path
(no download); its width equals the ``fusion-tiny`` config's d_model, so the untrained fusion
model passes its embeddings through and zero-/few-shot class vectors live in its space.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse.cli import main
from mmfuse.errors import InputError
from mmfuse.fusion.evaluate import score, write_report
from mmfuse.fusion.labels import LabelsError, read_labels
from mmfuse.tasks.social_media.featurize import Decoded, Featurizer, FeaturizerConfig
from mmfuse.tasks.social_media.fit import Checkpoint, holdout_mask
from mmfuse.tasks.social_media.stack import TextStacks
from mmfuse.types import Item

TINY_DIM = 32  # the d_model of the fusion-tiny config
POSITIVE = ["love", "great", "happy", "wonderful", "best", "amazing"]
NEGATIVE = ["hate", "awful", "sad", "terrible", "worst", "angry"]
FILLER = ["the", "a", "day", "today", "this", "that", "it", "was", "is", "my", "our"]


def post(rng: np.random.Generator, positive: bool) -> str:
    """A synthetic post: three sentiment words of one polarity among filler words."""
    words = list(rng.choice(POSITIVE if positive else NEGATIVE, 3)) + list(rng.choice(FILLER, 4))
    rng.shuffle(words)
    return " ".join(words) + ("!" if positive else ".")


def write_corpus(folder: Path, n: int, seed: int) -> tuple[Path, Path]:
    """``n`` .txt posts in ``folder/posts`` and ``folder/labels.csv`` (id, sentiment, topic).

    The "topic" column labels only every other post, to exercise missing labels.
    """
    rng = np.random.default_rng(seed)
    posts = folder / "posts"
    posts.mkdir(parents=True)
    rows = []
    for i in range(n):
        positive = bool(i % 2)
        (posts / f"p{i:03d}.txt").write_text(post(rng, positive), encoding="utf-8")
        topic = ("early" if i < n // 2 else "late") if i % 2 == 0 else ""
        rows.append({"id": f"p{i:03d}", "sentiment": "pos" if positive else "neg", "topic": topic})
    labels = folder / "labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["id", "sentiment", "topic"])
        writer.writeheader()
        writer.writerows(rows)
    return posts, labels


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    folder = save_tiny_sentence_transformer(
        tmp_path_factory.mktemp("tiny") / "tiny-st",
        POSITIVE + NEGATIVE + FILLER,
        TINY_DIM,
        layers=1,
        punctuation=["!", ".", ","],
    )
    return f"sentence-transformers:{folder}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    train_posts, train_labels = write_corpus(root / "train", 120, seed=0)
    test_posts, test_labels = write_corpus(root / "test", 40, seed=1)
    return {
        "train": train_posts,
        "train_labels": train_labels,
        "test": test_posts,
        "test_labels": test_labels,
        "root": root,
    }


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_cli(*argv) -> int:
    return main([str(a) for a in argv])


def train_tiny(tiny_model: str, out: Path, *flags) -> int:
    """``mmfuse train`` of a fusion-tiny model on the tiny text encoder."""
    return run_cli(
        "train", "--out", out, "--text-model", tiny_model, "--base", "fusion-tiny", *flags
    )


def labelled(corpus) -> tuple:
    """The flags naming the training corpus."""
    return ("--labels", corpus["train_labels"], "--data", corpus["train"])


def evaluate(model: Path, corpus, out: Path) -> dict:
    code = run_cli(
        "evaluate",
        "--model",
        model,
        "--labels",
        corpus["test_labels"],
        "--data",
        corpus["test"],
        "--out",
        out,
    )
    assert code == 0
    return json.loads((out / "metrics.json").read_text())


def test_train_then_evaluate_scores_above_chance(tiny_model, corpus, tmp_path, capsys):
    model = tmp_path / "model"
    code = train_tiny(tiny_model, model, *labelled(corpus), "--epochs", 15)
    assert code == 0
    for name in (
        "config.json",
        "model.safetensors",
        "featurizer.json",
        "stacks.json",
        "stacks.safetensors",
        "training.json",
    ):
        assert (model / name).is_file(), name
    metrics = evaluate(model, corpus, tmp_path / "eval")
    assert metrics["sentiment"]["n"] == 40
    assert metrics["sentiment"]["accuracy"] >= 0.9  # chance is 0.5
    assert metrics["sentiment"]["classes"] == ["neg", "pos"]
    assert np.array(metrics["sentiment"]["confusion"]).sum() == 40
    assert metrics["topic"]["n"] == 20  # only the labelled half is scored
    report = read_csv(tmp_path / "eval" / "sentiment_report.csv")
    assert [r["class"] for r in report] == ["neg", "pos", "macro avg", "weighted avg"]
    predictions = read_csv(tmp_path / "eval" / "predictions.csv")
    assert len(predictions) == 40 and predictions[0]["sentiment_predicted"] in ("neg", "pos")
    assert "sentiment: n=40" in capsys.readouterr().out


def test_train_refuses_to_clobber_a_model(tiny_model, corpus, tmp_path):
    model = tmp_path / "model"
    args = (*labelled(corpus), "--shots", 2)
    assert train_tiny(tiny_model, model, *args) == 0
    assert train_tiny(tiny_model, model, *args) == 2
    assert train_tiny(tiny_model, model, *args, "--overwrite") == 0


def test_few_shot_without_training_beats_chance(tiny_model, corpus, tmp_path):
    model = tmp_path / "few"
    code = train_tiny(tiny_model, model, *labelled(corpus), "--shots", 10, "--tasks", "sentiment")
    assert code == 0
    training = json.loads((model / "training.json").read_text())
    assert training["regime"] == "few-shot, k=10"
    assert not (model / "stacks.safetensors").exists()  # nothing was fitted
    metrics = evaluate(model, corpus, tmp_path / "eval")
    assert metrics["sentiment"]["accuracy"] >= 0.75


def test_examples_folder_builds_a_few_shot_model(tiny_model, corpus, tmp_path):
    rng = np.random.default_rng(3)
    examples = tmp_path / "examples"
    for name, positive in (("pos", True), ("neg", False)):
        (examples / name).mkdir(parents=True)
        for i in range(8):
            (examples / name / f"ex{i}.txt").write_text(post(rng, positive), encoding="utf-8")
    model = tmp_path / "ex-model"
    code = train_tiny(tiny_model, model, "--examples", examples, "--task", "sentiment")
    assert code == 0
    metrics = evaluate(model, corpus, tmp_path / "eval")
    assert metrics["sentiment"]["accuracy"] >= 0.75


def test_usage_errors_exit_2(tiny_model, corpus, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,sentiment\nx,pos\n", encoding="utf-8")
    assert (
        run_cli("train", "--labels", bad, "--data", corpus["train"], "--out", tmp_path / "m") == 2
    )
    assert "no 'id' column" in capsys.readouterr().err
    one_class = tmp_path / "one.csv"
    one_class.write_text("id,sentiment\np000,pos\np001,pos\n", encoding="utf-8")
    assert (
        run_cli("train", "--labels", one_class, "--data", corpus["train"], "--out", tmp_path / "m1")
        == 2
    )
    assert "only one class" in capsys.readouterr().err
    assert (
        run_cli("evaluate", "--model", tmp_path / "nowhere", "--labels", corpus["test_labels"]) == 2
    )


def test_labels_missing_cells_and_repeated_ids(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,text,a,b\n1,hello,x,\n2,bye,,y\n", encoding="utf-8")
    labels = read_labels(path)
    assert list(labels.tasks) == ["a", "b"]  # the text column is not a task
    assert labels.indices("a", ["x"], ["1", "2", "3"]).tolist() == [0, -1, -1]
    path.write_text("id,a\n1,x\n1,y\n", encoding="utf-8")
    with pytest.raises(LabelsError, match="repeated"):
        read_labels(path)


def test_decode_reports_bad_text_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    featurizer = Featurizer(FeaturizerConfig(lexical=False), cache=False)
    with pytest.raises(InputError, match="not UTF-8"):
        featurizer.decode(Item("bad", (bad,)))
    with pytest.raises(InputError, match="no text"):
        featurizer.decode(Item("empty", (), text="  "))
    assert featurizer.decode(Item("ok", (), text="hi")).text == "hi"


def test_stacks_predict_out_of_fold_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    texts = [post(rng, bool(i % 2)) for i in range(60)]
    y = np.arange(60) % 2
    score_ = np.where(y == 1, 0.8, -0.8) + rng.normal(0, 0.1, 60)
    dense = np.c_[score_, rng.normal(size=(60, 3))].astype(np.float32)
    stacks = TextStacks()
    tokens = stacks.fit(texts, dense, {"s": y, "v": score_}, {"s": ["neg", "pos"], "v": []})
    assert stacks.dims == {"bow": 3, "embedding": 3}  # two class probabilities + one value
    np.testing.assert_allclose(tokens["bow"][:, :2].sum(axis=1), 1.0, rtol=1e-5)
    assert (tokens["bow"][:, :2].argmax(1) == y).mean() > 0.9  # out of fold, yet right
    assert np.corrcoef(tokens["embedding"][:, 2], score_)[0, 1] > 0.9
    stacks.save(tmp_path)
    loaded = TextStacks.load(tmp_path)
    new_texts, new_dense = [post(rng, True), post(rng, False)], dense[:2]
    for name, values in loaded.predict(new_texts, new_dense).items():
        np.testing.assert_allclose(values, stacks.predict(new_texts, new_dense)[name], atol=1e-6)
    assert loaded.predict(new_texts, new_dense)["bow"][:, :2].argmax(1).tolist() == [1, 0]


def test_featurizer_cache_and_checkpoint_round_trip(tiny_model, tmp_path):
    from mmfuse.encoders.base import create_encoder
    from mmfuse.tasks.social_media.fit import zero_shot

    encoder = create_encoder(tiny_model, "cpu")
    featurizer = Featurizer(
        FeaturizerConfig(text_model=tiny_model, lexical=True), text_encoder=encoder
    )
    decoded = [Decoded("love this best day"), Decoded("awful sad day")]
    first = featurizer.featurize(decoded)
    again = featurizer.featurize(decoded)  # from the cache
    np.testing.assert_array_equal(first["text"].tokens, again["text"].tokens)
    assert set(first) == {"text", "lexical"}
    checkpoint = zero_shot(featurizer, {"s": ["neg", "pos"]}, base="fusion-tiny")
    checkpoint.save(tmp_path / "ck")
    loaded = Checkpoint.load(tmp_path / "ck", text_encoder=encoder)
    assert loaded.featurizer.config == featurizer.config
    assert loaded.model.tasks == ["s"]


def test_holdout_mask_is_stratified_per_task():
    labels = {
        "a": np.array([0] * 50 + [1] * 50 + [-1] * 100),
        "b": np.array([-1] * 100 + [0, 1] * 50),
    }
    held = holdout_mask(labels, 0.2, seed=0)
    assert held[:50].sum() == 10 and held[50:100].sum() == 10 and held[100:].sum() == 20


def test_report_files(tmp_path):
    y = np.array([0, 0, 1, 1, 2, -1])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    result = score("t", y, probs, ["a", "b", "c"])
    assert result.metrics["n"] == 5 and result.metrics["accuracy"] == pytest.approx(0.8)
    paths = write_report({"t": result}, tmp_path)
    assert {p.name for p in paths} == {"metrics.json", "t_report.csv", "t_confusion.csv"}
    confusion = read_csv(tmp_path / "t_confusion.csv")
    assert list(confusion[0].values()) == ["a", "1", "1", "0"]


@pytest.mark.slow
def test_a_model_trained_on_posts_with_images_reads_the_images(tmp_path, one_torch_thread):
    """Same caption on every post, the label told only by the photo: training must use it."""
    from PIL import Image

    def write_posts(folder: Path, n: int, seed: int) -> Path:
        rng = np.random.default_rng(seed)
        folder.mkdir(parents=True)
        rows = []
        for i in range(n):
            sunny = bool(i % 2)
            base = np.array([250, 200, 40] if sunny else [20, 30, 120], dtype=np.int16)
            pixels = np.clip(base + rng.integers(-20, 21, (64, 64, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"p{i:02d}.png")
            (folder / f"p{i:02d}.txt").write_text("here is my photo of today", encoding="utf-8")
            rows.append(f"p{i:02d},{'sunny' if sunny else 'dark'}")
        labels = folder.parent / f"{folder.name}.csv"
        labels.write_text("id,look\n" + "\n".join(rows) + "\n", encoding="utf-8")
        return labels

    train_labels = write_posts(tmp_path / "train", 32, seed=0)
    test_labels = write_posts(tmp_path / "test", 10, seed=1)
    model = tmp_path / "model"
    image = (
        "--image-model",
        "timm:tf_efficientnet_lite0",
        "--no-stacks",
        "--learning-rate",
        "3e-4",
    )
    train = ("--labels", train_labels, "--data", tmp_path / "train")
    assert run_cli("train", "--out", model, *train, *image) == 0
    config = json.loads((model / "config.json").read_text())
    assert "image" in config["modalities"]
    out = tmp_path / "eval"
    test = ("--labels", test_labels, "--data", tmp_path / "test")
    assert run_cli("evaluate", "--model", model, *test, "--out", out) == 0
    assert json.loads((out / "metrics.json").read_text())["look"]["accuracy"] >= 0.9


def test_training_reports_its_hold_out_score_beside_zero_shot(tiny_model, corpus, tmp_path, capsys):
    model = tmp_path / "model"
    assert train_tiny(tiny_model, model, *labelled(corpus), "--epochs", 5) == 0
    out = capsys.readouterr().out
    assert "sentiment: hold-out macro_f1" in out and "(zero-shot: " in out
    training = json.loads((model / "training.json").read_text())
    assert 0 <= training["zero_shot_holdout_metrics"]["sentiment"]["macro_f1"] <= 1


def test_a_model_below_zero_shot_and_too_few_shots_are_warned_about(
    tiny_model, corpus, tmp_path, caplog
):
    from mmfuse.commands import train as train_command
    from mmfuse.tasks.social_media.fit import FitOptions

    featurizer = Featurizer(FeaturizerConfig(text_model=tiny_model), cache=False)
    decoded = [Decoded(post(np.random.default_rng(i), i % 2 == 1)) for i in range(20)]
    y = {"sentiment": np.array([i % 2 for i in range(20)])}
    classes = {"sentiment": ["neg", "pos"]}
    options = FitOptions(base="fusion-tiny", holdout=0.5)
    worst = {"sentiment": {"macro_f1": 0.0}}  # a trained model that got nothing right
    train_command._report_holdout(featurizer, decoded, y, classes, {}, options, worst)
    assert "scores below zero-shot" in caplog.text
    train_command._warn_few_examples(y, classes, k=50)
    assert "--shots 50: sentiment has fewer examples: neg (10), pos (10)" in caplog.text
