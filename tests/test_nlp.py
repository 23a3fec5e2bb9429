"""spaCy preprocessing, social-media normalisation and language detection."""

from __future__ import annotations

import numpy as np
import pytest

from mmfuse.nlp import language, social
from mmfuse.tasks.screening import preprocess

# --- preprocessing ------------------------------------------------------------------------


def test_tokens_split_contractions_and_drop_whitespace():
    assert preprocess.tokenize("I don't  like it.") == ["I", "do", "n't", "like", "it", "."]


def test_lemmas_reduce_inflected_words():
    lemmas = preprocess.lemmatize("running dogs")
    assert "run" in lemmas and "dog" in lemmas
    assert preprocess.lemmatize("The mice were eating") == ["the", "mouse", "be", "eat"]


def test_stop_words_are_removed_case_insensitively():
    tokens = preprocess.tokenize("The dogs are in THE park")
    assert preprocess.remove_stop_words(tokens) == ["dogs", "park"]


def test_named_entities_have_labels_and_exact_spans():
    text = "Barack Obama visited Paris with Google engineers."
    entities = preprocess.named_entities(text)
    labels = {e.text: e.label for e in entities}
    assert labels.get("Barack Obama") == "PERSON"
    assert labels.get("Paris") == "GPE"
    assert all(text[e.start : e.end] == e.text for e in entities)


def test_bag_of_words_counts_lemmas_without_stop_words_or_punctuation():
    counts, vectorizer = preprocess.bag_of_words(["The dogs chase dogs!", "A dog sleeps."])
    assert vectorizer.vocabulary == ["chase", "dog", "sleep"]
    assert counts.toarray().tolist() == [[1, 2, 0], [0, 1, 1]]


def test_tfidf_vocabulary_round_trips_through_json(tmp_path):
    corpus = [
        "Cats are sleeping on the warm mat.",
        "The dog chased the cat around the garden.",
        "Dogs and cats rarely sleep together.",
    ]
    matrix, fitted = preprocess.tfidf(corpus, min_df=1)
    path = tmp_path / "vocabulary.json"
    fitted.save(path)
    reloaded = preprocess.TextVectorizer.load(path)
    assert reloaded.vocabulary == fitted.vocabulary
    unseen = ["A cat and a parrot sleep in the garden."]
    for texts in (corpus, unseen):
        a, b = fitted.transform(texts), reloaded.transform(texts)
        assert a.shape == b.shape and abs(a - b).max() == 0.0
    np.testing.assert_allclose(np.linalg.norm(matrix.toarray(), axis=1), 1.0)
    assert "parrot" not in reloaded.vocabulary  # unknown words do not grow a fitted vocabulary
    with pytest.raises(ValueError, match="format"):
        preprocess.TextVectorizer.from_json('{"vocabulary": []}')


# --- social-media normalisation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fish &amp; chips", "Fish & chips"),
        ("see https://t.co/AbC123 now", "see http now"),
        ("read this:https://t.co/x and www.example.com", "read this: http and http"),
        ("@bob_99 thanks, @alice!", "@user thanks, @user!"),
        ("write to bob@example.com", "write to bob@example.com"),
        ("Soooo goooood", "Soo good"),
        ("What?!?!?! No!!!!!!", "What?!? No!!!"),
        ("wait.......", "wait..."),
        ("#BlackLivesMatter", "#BlackLivesMatter (black lives matter)"),
        ("#happybirthday to me", "#happybirthday (happy birthday) to me"),
        ("#love it", "#love it"),
        ("#tcot #MAGA", "#tcot #MAGA"),
        ("I am #1", "I am #1"),
        ("lol 😂😂😂", "lol 😂 (face with tears of joy)"),
        ("ok 👍🏽", "ok 👍🏽 (thumbs up)"),
    ],
)
def test_normalize_keeps_signal_in_readable_form(raw, expected):
    assert social.normalize(raw) == expected


def test_hashtag_words_from_camel_case_digits_and_known_words():
    assert social.split_hashtag("#NotMyPresident") == ["not", "my", "president"]
    assert social.split_hashtag("#Trump2020") == ["trump", "2020"]
    assert social.split_hashtag("#BUILDTHATWALL") == ["build", "that", "wall"]
    assert social.split_hashtag("#wewelcomerefugees") == ["we", "welcome", "refugees"]
    assert social.split_hashtag("#gbbo") == ["gbbo"]  # an acronym is not forced into words


def test_signals_count_what_normalisation_rewrites():
    found = social.signals("Soooo HAPPY!!! 😂😂 #BestDay @bob &amp; https://t.co/x, right??")
    assert found["emojis"] == 2
    assert found["hashtags"] == 1 and found["mentions"] == 1 and found["urls"] == 1
    assert found["elongated_words"] == 1
    assert found["repeated_punctuation"] == 2
    assert found["exclamations"] == 3 and found["questions"] == 2
    assert found["allcaps_words"] == 1
    assert 0 < found["caps_ratio"] < 1
    assert set(found) == set(social.SIGNAL_NAMES)
    assert social.signals("")["caps_ratio"] == 0.0


def test_emoji_names_drop_skin_tone():
    found = [social.emoji_name(e["emoji"]) for e in social.find_emojis("👍🏿 great ❤️")]
    assert found == ["thumbs up", "red heart"]


# --- language detection -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("@user I may or may not have searched it up on google", "en"),
        ("Dark Souls 3 April Launch Date Confirmed With New Trailer: Embrace the darkness.", "en"),
        ("Je suis très content de te voir aujourd'hui, mon ami.", "fr"),
        ("Me gusta mucho la comida de mi abuela los domingos.", "es"),
        ("Ich habe heute leider keine Zeit für das Treffen.", "de"),
    ],
)
def test_detect_language_names_the_language(text, code):
    detected, probability = language.detect_language(text)
    assert detected == code and probability > 0.9


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ok lol",
        "😂😂😂🔥",
        "@user #MAGA https://t.co/abc 2020",
        "cmyk elephants",  # two words read as Hungarian
        "<script>alert(1)</script> love it",  # markup read as Romanian
    ],
)
def test_too_little_text_is_undetermined(text):
    assert language.detect_language(text) == ("und", 0.0)


def test_detection_agrees_with_langdetect_sampling():
    from langdetect import DetectorFactory, detect_langs

    DetectorFactory.seed = 0
    texts = [
        "@user I may or may not have searched it up on google tonight",
        "Questo film è bellissimo, lo consiglio a tutti!",
        "Eu adoro este lugar, a comida é ótima e barata",
        "Это был отличный день, спасибо всем",
    ]
    for text in texts:
        assert language.detect_language(text) == language.detect_language(text)
        assert language.detect_language(text)[0] == detect_langs(text)[0].lang


def test_only_confident_other_languages_are_flagged():
    assert set(language.SUPPORTED_LANGUAGES) == {"en"}

    def unsupported(text: str) -> str | None:
        code, probability = language.detect_language(text)
        return None if language.is_supported(code, probability) else code

    assert unsupported("Je suis très content de te voir aujourd'hui.") == "fr"
    assert unsupported("This movie was great fun, I loved it.") is None
    assert unsupported("😂😂") is None
