"""``mmfuse run social-media`` with the shipped mmfuse-base model and the real encoders."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mmfuse.cli import main
from mmfuse.encoders.base import create_encoder
from mmfuse.fusion.media import Decoded, EncodedMedia
from mmfuse.tasks.social_media.fit import Checkpoint
from mmfuse.tasks.social_media.scoring import add_media_aliases, score_posts
from mmfuse.types import Segment, Transcript

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

pytestmark = pytest.mark.integration


def read_rows(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8-sig", newline="") as file:
        return {row.get("id") or row["value"]: row for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def posts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("social") / "out"
    assert main(["run", "social-media", str(SAMPLE / "social_media"), "-o", str(out)]) == 0
    return out


def test_posts_are_read_for_sentiment_emotion_and_language(posts):
    rows = read_rows(posts / "results.csv")
    assert len(rows) == 8
    flight = rows["post08_flight"]
    assert flight["sentiment"] == "negative" and float(flight["sentiment_score"]) < -0.3
    assert flight["emotion"] == "anger"
    garden = rows["post03_garden"]
    assert garden["sentiment"] == "positive" and garden["emotion"] in ("joy", "optimism")
    assert "flower" in garden["visual_concepts"] or "plant" in garden["visual_concepts"]
    cafe = rows["post07_cafe"]
    assert cafe["language"] == "fr" and cafe["language_supported"] == "False"
    assert "English-only" in cafe["notes"]
    assert all(0 <= float(r["sarcasm_prob"]) <= 1 for r in rows.values())
    assert "customer service" in rows["post06_support"]["topics"]


def test_sincere_posts_stay_positive_and_unflagged(posts):
    rows = read_rows(posts / "results.csv")
    for sincere in ("post01_temple", "post03_garden", "post04_headphones"):
        assert rows[sincere]["sentiment"] == "positive", sincere
        assert rows[sincere]["literal_sentiment"] == "positive", sincere
        assert not rows[sincere]["flip_reason"], sincere
    for sincere in ("post01_temple", "post03_garden"):
        assert float(rows[sincere]["sarcasm_prob"]) < 0.5, sincere


@pytest.mark.parametrize("sarcastic", ["post02_monday", "post06_support"])
def test_sarcastic_posts_read_with_their_intended_sentiment(posts, sarcastic):
    """The sample's sarcastic complaints read negative, say why, and feel negative."""
    rows = read_rows(posts / "results.csv")
    assert rows[sarcastic]["sentiment"] == "negative", sarcastic
    assert rows[sarcastic]["literal_sentiment"] != "negative", sarcastic
    assert rows[sarcastic]["flip_reason"].startswith("sarcastic"), sarcastic
    assert rows[sarcastic]["emotion"] in ("anger", "sadness"), sarcastic


def test_emotions_agree_with_the_sentiment_as_meant(posts):
    """A negative post gets a negative emotion and a positive one a positive emotion; a post
    read against its words (``flip_reason``) does not keep its words' joy."""
    rows = read_rows(posts / "results.csv")
    for row in rows.values():
        if row["sentiment"] == "negative":
            assert row["emotion"] in ("anger", "sadness"), row["id"]
        elif row["sentiment"] == "positive":
            assert row["emotion"] in ("joy", "optimism"), row["id"]
        if row["flip_reason"]:
            assert row["literal_sentiment"] != row["sentiment"] == "negative", row["id"]


def test_speech_that_contradicts_the_caption_is_incongruous(posts):
    rows = read_rows(posts / "results.csv")
    headphones = rows["post04_headphones"]
    assert "headphones broke" in headphones["transcript"].lower()
    assert headphones["incongruity_source"] == "audio"
    others = [
        float(r["incongruity"])
        for k, r in rows.items()
        if r["incongruity"] and k != "post04_headphones"
    ]
    assert float(headphones["incongruity"]) > max(0.1, 2 * max(others))  # the one to read first
    assert float(headphones["sentiment_from_audio"]) > 0
    assert rows["post02_monday"]["incongruity"] == ""  # text only: nothing to compare
    shares = [float(headphones[f"sentiment_from_{s}"]) for s in ("text", "audio", "image", "video")]
    assert sum(shares) == pytest.approx(1, abs=1e-3)


def test_summary_and_report_are_written(posts):
    summary = read_rows(posts / "summary.csv")
    assert summary["all posts"]["posts"] == "8"
    page = (posts / "report.html").read_text(encoding="utf-8")
    assert "post08_flight" in page and "Summary (summary.csv)" in page
    assert 'data-chart="sentiment-by-topic"' in page and 'data-chart="attention-shares"' in page
    assert "Posts to read" in page and "post02_monday" in page  # listed as most sarcastic
    manifest = json.loads((posts / "manifest.json").read_text())
    assert manifest["task"] == "social-media" and manifest["items"]["failed"] == 0


def test_an_export_keeps_its_brand_and_campaign_columns(tmp_path):
    out = tmp_path / "out"
    export = SAMPLE / "social_media_export" / "posts.csv"
    assert main(["run", "social-media", str(export), "-o", str(out)]) == 0
    rows = read_rows(out / "results.csv")
    assert rows["t1"]["brand"] == "acme" and rows["t4"]["campaign"] == "launch"
    assert rows["t2"]["sentiment"] == "negative"
    with open(out / "summary.csv", encoding="utf-8-sig", newline="") as file:
        groups = {(r["group"], r["value"]) for r in csv.DictReader(file)}
    assert {("brand", "acme"), ("brand", "globex")} <= groups


def test_caption_against_speech_by_precomputed_embeddings():
    """A positive caption over negative speech is more incongruous than over positive speech."""
    checkpoint = Checkpoint.load("mmfuse-base")
    add_media_aliases(checkpoint.model)
    # the media's tokens: speech segments (given below, so no speech model is loaded)
    featurizer = checkpoint.featurizer
    featurizer.config = replace(featurizer.config, speech_model="faster-whisper:base")
    text = create_encoder("sentence-transformers:all-MiniLM-L6-v2")
    caption = "Loving my new headphones!!! Best purchase this year"
    spoken = {
        "against": "These headphones broke after two days. The sound is terrible, I want a refund.",
        "agrees": "These headphones sound amazing and they are so comfortable, I love them.",
    }
    media = []
    for words in spoken.values():
        transcript = Transcript("en", 1.0, 4.0, [Segment(0.0, 4.0, words, -0.2, 0.01)])
        media.append(
            EncodedMedia(
                transcripts=[("voice.wav", transcript)],
                speech=text.encode([words]),
                speech_times=np.zeros(1, np.float32),
            )
        )
    decoded = [Decoded(text=caption), Decoded(text=caption)]
    against, agrees = score_posts(checkpoint, decoded, media)
    assert against.incongruity > agrees.incongruity + 0.2
    assert against.incongruity_source == "audio"


def test_the_manifest_and_report_list_the_models_that_ran(posts, tmp_path):
    """Issue 24 #5: a text-only run listed Whisper and EfficientNet, which never ran, and left
    out MiniLM and mmfuse-base, which produced every score."""
    minilm, base = "sentence-transformers:all-MiniLM-L6-v2", "mmfuse-base"
    out = tmp_path / "text-only"
    posts_csv = tmp_path / "posts.csv"
    posts_csv.write_text("id,text\n1,@SkyJetHelp my bag is lost\n2,Loving it!\n", encoding="utf-8")
    assert main(["run", "social-media", str(posts_csv), "-o", str(out)]) == 0
    models = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["models"]
    assert [m["id"] for m in models] == [minilm, base]
    assert models[1]["licence"].startswith("Apache-2.0") and models[1]["sha256"]
    run_details = (out / "report.html").read_text(encoding="utf-8").split('id="run"')[1]
    assert minilm in run_details and "faster-whisper" not in run_details
    assert read_rows(out / "results.csv")["1"]["text"] == "@SkyJetHelp my bag is lost"
    with_media = json.loads((posts / "manifest.json").read_text(encoding="utf-8"))["models"]
    ids = [m["id"] for m in with_media]
    assert ids[:2] == [minilm, base] and "faster-whisper:base" in ids
    assert "timm:tf_efficientnet_lite0" in ids


def test_formula_in_a_caption_opens_as_text(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "evil.txt").write_text('=HYPERLINK("http://x.example","click")')
    out = tmp_path / "out"
    assert main(["run", "social-media", str(tmp_path / "in"), "-o", str(out)]) == 0
    assert read_rows(out / "results.csv")["evil"]["text"].startswith("'=HYPERLINK(")


def test_examples_folder_adds_a_few_shot_task(tmp_path):
    examples = tmp_path / "intent"
    texts = {
        "complaint": ["My order arrived broken", "Still waiting for my refund", "Rude staff"],
        "question": ["Do you ship to Canada?", "What time do you open?", "Is it waterproof?"],
    }
    for label, lines in texts.items():
        (examples / label).mkdir(parents=True)
        for i, line in enumerate(lines):
            (examples / label / f"{i}.txt").write_text(line)
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "a.txt").write_text("The package came damaged and nobody answers my emails")
    (posts / "b.txt").write_text("Does this jacket come in a larger size?")
    out = tmp_path / "out"
    args = ["run", "social-media", str(posts), "-o", str(out), "--examples", str(examples)]
    assert main(args) == 0
    rows = read_rows(out / "results.csv")
    assert rows["a"]["intent"] == "complaint" and rows["b"]["intent"] == "question"
    assert 0.5 <= float(rows["b"]["intent_prob"]) <= 1


@pytest.mark.integration
def test_pipeline_metrics_equal_evaluate_on_tweeteval(shared_data, tmp_path, one_torch_thread):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "social_vs_evaluate.py"
    spec = importlib.util.spec_from_file_location("social_vs_evaluate", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "compare"
    assert script.main(["--data", str(shared_data), "--out", str(out), "--limit", "80"]) == 0
    report = json.loads((out / "comparison.json").read_text())
    assert set(report) == {"sentiment", "emotion", "irony"}
    for pair in report.values():
        assert pair["evaluate"] == pair["pipeline"] > 0.3


def test_a_config_file_sets_options_and_a_flag_overrides_it(tmp_path):
    posts = tmp_path / "posts.csv"
    posts.write_text(
        "id,text\nrain,Rain again all weekend and the match got cancelled.\n"
        "goal,What a goal in the last minute of the derby!\n",
        encoding="utf-8",
    )
    config = tmp_path / "run.toml"
    config.write_text('topics = ["weather", "sports"]\nbatch_size = 1\n', encoding="utf-8")

    out = tmp_path / "from_config"
    assert main(["run", "social-media", str(posts), "-o", str(out), "--config", str(config)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["topics"] == ["weather", "sports"]
    assert manifest["run_options"]["batch_size"] == 1
    rows = read_rows(out / "results.csv")
    # a post about both (rain, a match) is clearly about neither: other
    topics = {t for row in rows.values() for t in row["topics"].split("; ")}
    assert topics <= {"weather", "sports", "other"}
    assert "sports" in rows["goal"]["topics"]

    out = tmp_path / "flag_wins"
    flags = ["--config", str(config), "--topics", "travel,food", "--batch-size", "4"]
    assert main(["run", "social-media", str(posts), "-o", str(out), *flags]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["topics"] == ["travel", "food"]
    assert manifest["run_options"]["batch_size"] == 4


def test_an_unknown_config_key_is_a_usage_error(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("topix = ['weather']\n", encoding="utf-8")
    folder = SAMPLE / "social_media"
    args = ["run", "social-media", str(folder), "-o", str(tmp_path / "o"), "--config", str(config)]
    assert main(args) == 2
    assert "unknown option(s) topix" in capsys.readouterr().err


def test_a_huge_single_line_post_is_cut_with_a_note(tmp_path):
    from mmfuse.tasks.social_media.task import MAX_POST_CHARS

    (tmp_path / "in").mkdir()
    sentence = "The delivery was late again and the box was crushed. "
    (tmp_path / "in" / "huge.txt").write_text(sentence * 20_000, encoding="utf-8")  # ~1 MB
    out = tmp_path / "out"
    assert main(["run", "social-media", str(tmp_path / "in"), "-o", str(out)]) == 0
    row = read_rows(out / "results.csv")["huge"]
    assert f"cut to its first {MAX_POST_CHARS:,}" in row["notes"]
    assert row["sentiment"] == "negative"
