"""spaCy preprocessing, social-media normalisation and language detection."""

from __future__ import annotations

import pytest

from mmfuse.nlp import language, social
from mmfuse.tasks.screening import preprocess

# --- preprocessing ------------------------------------------------------------------------


def test_matching_terms_are_lowercase_lemmas_without_stop_words_or_punctuation():
    # the one tokeniser, stop list and lemmatiser the screening's matching uses
    assert preprocess.analyze(["The dogs chase THE dogs!", "Running, 5 mice."]) == [
        ["dog", "chase", "dog"],
        ["run", "5", "mouse"],
    ]
    assert preprocess.analyze(["The dogs"], lemmas=False, stop_words=True) == [["the", "dogs"]]


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
