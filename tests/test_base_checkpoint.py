"""The shipped ``mmfuse-base`` checkpoint: its files, its size, and sensible answers.

The structural tests read only the checkpoint folder; the answers need the real MiniLM text
encoder (a packaged model) and are marked ``integration``; the evaluation round trip through
``mmfuse evaluate`` also reads ../shared/data.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mmfuse.cli import main
from mmfuse.fusion.inference import predict
from mmfuse.fusion.model import CHECKPOINTS_DIR, create_model
from mmfuse.tasks.social_media.fit import Checkpoint
from mmfuse.tasks.social_media.scoring import Meant, meant_sentiment
from mmfuse.types import Item

FOLDER = CHECKPOINTS_DIR / "mmfuse-base"
# The size budget of a shipped checkpoint: v4 holds all six fine-tuned MiniLM layers (21 MB
# of float16), under a third of the 87 MB encoder they are a delta of.
MAX_BYTES = 32 * 1024 * 1024
TASKS = {
    "sentiment": ["negative", "neutral", "positive"],
    "emotion": ["anger", "joy", "optimism", "sadness"],
    "irony": ["non_irony", "irony"],
}
OBVIOUS = {
    "I love this, best day ever!": {"sentiment": "positive", "emotion": "joy"},
    "This is awful, I hate it": {"sentiment": "negative", "emotion": "anger"},
}
IRONY_SLICE = 120  # validation tweets run through `mmfuse evaluate` in the round trip


@pytest.fixture(scope="module")
def base() -> Checkpoint:
    return Checkpoint.load("mmfuse-base")


def base_data():
    """The development data readers of ``scripts/base_data.py``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import base_data

    return base_data


def read_as_meant(checkpoint: Checkpoint, texts: list[str]) -> tuple[dict, Meant]:
    """The model's scores of texts read as the social task reads them, and the sentiment as
    meant (``meant_sentiment``)."""
    decoded = [checkpoint.featurizer.decode(Item(str(i), text=t)) for i, t in enumerate(texts)]
    scores = predict(checkpoint.model, checkpoint.featurizer.featurize(decoded))
    return scores, meant_sentiment(checkpoint, texts, scores)


def test_checkpoint_is_small_and_holds_no_pickle():
    files = [p for p in FOLDER.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < MAX_BYTES
    assert {p.suffix for p in files} <= {".json", ".safetensors", ".md"}
    assert (FOLDER / "model.safetensors").is_file()


def test_checkpoint_loads_by_name_with_its_tasks(base):
    model = create_model("mmfuse-base")
    for task, classes in TASKS.items():
        assert model.task(task).classes == classes
    assert model.task("valence").kind == "regression"
    dims = model.config.modalities
    assert dims["text"] == 384  # MiniLM's space, which tokens of other media are read in
    assert {k: dims[k] for k in base.featurizer.stacks.dims} == base.featurizer.stacks.dims


@pytest.mark.integration
def test_obvious_posts(base):
    texts = list(OBVIOUS)
    decoded = [base.featurizer.decode(Item(str(i), text=t)) for i, t in enumerate(texts)]
    scores = predict(base.model, base.featurizer.featurize(decoded))
    for row, text in enumerate(texts):
        for task, expected in OBVIOUS[text].items():
            classes = base.model.task(task).classes
            assert classes[int(np.argmax(scores[task][row]))] == expected, (text, task)
    assert scores["valence"][0] > 0.2 > -0.2 > scores["valence"][1]  # v4: 0.69, -0.43


@pytest.mark.integration
def test_evaluate_command_reproduces_direct_predictions(base, shared_data, tmp_path):
    folder = shared_data / "text" / "tweeteval" / "irony"
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()[:IRONY_SLICE]
    labels = (folder / "val_labels.txt").read_text().split()[:IRONY_SLICE]
    manifest = tmp_path / "irony.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "irony"])
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            writer.writerow([f"t{i}", text, TASKS["irony"][int(label)]])
    assert main(["evaluate", "--labels", str(manifest), "--out", str(tmp_path / "ev")]) == 0
    with open(tmp_path / "ev" / "predictions.csv", newline="", encoding="utf-8-sig") as f:
        from_cli = [row["irony_predicted"] for row in csv.DictReader(f)]
    decoded = [base.featurizer.decode(Item(f"t{i}", text=t)) for i, t in enumerate(texts)]
    direct = predict(base.model, base.featurizer.featurize(decoded))["irony"].argmax(axis=1)
    assert from_cli == [TASKS["irony"][i] for i in direct]
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["irony"]["n"] == IRONY_SLICE
    assert metrics["irony"]["accuracy"] > 0.55  # chance is about 0.5


@pytest.mark.integration
def test_sarcastic_tweets_read_as_their_authors_meant_them(base, shared_data):
    """On the held-out fifth of iSarcasmEval (never trained on), the sentiment as meant
    (``meant_sentiment``) reads more sarcastic tweets negative than their words do, and most
    of them (v4: 68 %; v3: 66 %; v2 72 %, when it also read plain praise negative), while
    few sincere tweets are flagged sarcastic (v4: 7 %; v3: 14 %; v2: 23 %)."""
    sarcasm = base_data().isarcasmeval(shared_data)
    held = np.flatnonzero(sarcasm.held_out)
    scores, reading = read_as_meant(base, [sarcasm.texts[i] for i in held])
    meant = reading.sentiment.argmax(1)
    negative = TASKS["sentiment"].index("negative")
    sarcastic = sarcasm.sarcastic[held] == 1
    literal_negative = np.mean(scores["sentiment"][sarcastic].argmax(1) == negative)
    meant_negative = np.mean(meant[sarcastic] == negative)
    assert meant_negative > literal_negative and meant_negative >= 0.55
    flagged = scores["irony"][:, TASKS["irony"].index("irony")] > 0.5
    assert np.mean(flagged[~sarcastic]) <= 0.2


@pytest.fixture(scope="module")
def customer_posts(base) -> dict[str, np.ndarray]:
    """The customer-service posts written for the check (``scripts/data/written_posts.csv``,
    never trained on): people's labels ("sarcastic" for a sarcastic complaint) and the
    sentiment as meant, per post."""
    written = base_data().written_posts()
    rows = np.flatnonzero(written.domain == "customer_service")
    _, meant = read_as_meant(base, [written.texts[i] for i in rows])
    classes = np.array(TASKS["sentiment"])
    labels = np.where(written.sarcastic[rows] == 1, "sarcastic", written.sentiment[rows])
    return {"label": labels, "meant": classes[meant.sentiment.argmax(1)]}


@pytest.mark.integration
def test_customer_complaints_and_questions_read_as_people_label_them(customer_posts):
    """Sincere complaints to a company read negative and calm questions neutral (v4: 90 and
    89 % of the 90 and 70 written ones)."""
    label, meant = customer_posts["label"], customer_posts["meant"]
    assert np.mean(meant[label == "negative"] == "negative") >= 0.8
    assert np.mean(meant[label == "neutral"] == "neutral") >= 0.8


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason="issue 21: v4 reads 73 % of customer-service thanks for a problem fixed negative "
    "(it follows the problem's words); training on written posts helped them but cost tweet "
    "sentiment (MODEL_CARD)",
)
def test_customer_thanks_for_a_problem_fixed_read_positive(customer_posts):
    label, meant = customer_posts["label"], customer_posts["meant"]
    assert np.mean(meant[label == "positive"] == "positive") >= 0.8
