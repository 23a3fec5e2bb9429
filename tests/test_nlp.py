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


# Texts whose n-gram walk has every case: capitalised words, punctuation that langdetect reads
# as a space, runs of spaces, URLs and e-mail addresses it removes itself, Latin-1 letters and
# excluded signs, Vietnamese marks, Romanian commas, mostly non-Latin text (its Latin letters
# dropped), Hiragana, CJK, Arabic, and a text over langdetect's maximum length.
WALK_TEXTS = [
    "@user I may or may not have searched it up on google tonight",
    "LOVE this SO much!!! best. day. EVER",
    "A  B   C  spaced   out  x",
    "mail me at someone@example.com or see http://example.org/page?x=1 today",
    "Je suis très content de te voir aujourd'hui, mon ami « bien » ±",
    "Tiếng Việt có dấu: Việt Nam đẹp lắm",
    "Ştiinţa şi ţara în România, știință și țară",
    "Это был отличный день, спасибо всем, OK?",
    "これはテストです ひらがな カタカナ",
    "我们今天去公园玩了很久 中文 text",
    "مرحبا بكم في یک الموقع",
    "ab " * 4000,
    "x",
    "",
]


def _whole_text_rows(cleaned: str) -> list[int]:
    """langdetect's n-gram walk over the whole text at once (the implementation before the
    word memo), the reference ``language._ngram_rows`` must equal."""
    from langdetect.detector import Detector
    from langdetect.utils.ngram import NGram

    factory, rows, _ = language._profiles()
    detector = Detector(factory)
    detector.append(cleaned)
    detector.cleaning_text()
    ngram, found = NGram(), []
    for char in detector.text:
        ngram.add_char(char)
        for n in range(1, NGram.N_GRAM + 1):
            gram = ngram.get(n)
            if gram in rows:
                found.append(rows[gram])
    return found


@pytest.mark.parametrize("text", WALK_TEXTS)
def test_word_by_word_walk_gives_the_whole_text_walk(text):
    for cleaned in (text, language._language_text(text)):
        assert language._ngram_rows(cleaned) == _whole_text_rows(cleaned)
        assert language._ngram_rows(cleaned) == _whole_text_rows(cleaned)  # from the memo


def test_detection_probability_is_the_exact_posterior():
    import numpy as np
    from langdetect.detector import Detector

    factory = language._profiles()[0]
    table = np.array(list(factory.word_lang_prob_map.values()))
    smoothing = Detector.ALPHA_DEFAULT / Detector.BASE_FREQ
    for text in WALK_TEXTS[:11]:
        picks = _whole_text_rows(language._language_text(text))
        log_likelihood = np.log(table[picks] + smoothing).sum(axis=0)
        posterior = np.exp(log_likelihood - log_likelihood.max())
        posterior /= posterior.sum()
        best = int(posterior.argmax())
        expected = (factory.langlist[best].split("-")[0], float(posterior[best]))
        if language.detect_language(text) != ("und", 0.0):
            assert language.detect_language(text) == expected


def test_only_confident_other_languages_are_flagged():
    assert set(language.SUPPORTED_LANGUAGES) == {"en"}

    def unsupported(text: str) -> str | None:
        code, probability = language.detect_language(text)
        return None if language.is_supported(code, probability) else code

    assert unsupported("Je suis très content de te voir aujourd'hui.") == "fr"
    assert unsupported("This movie was great fun, I loved it.") is None
    assert unsupported("😂😂") is None


def test_threads_asking_at_once_load_the_language_profiles_once(monkeypatch):
    import threading

    loads = []

    class CountingFactory(language.DetectorFactory):
        def load_profile(self, directory):
            loads.append(directory)
            super().load_profile(directory)

    monkeypatch.setattr(language, "DetectorFactory", CountingFactory)
    language._load_profiles.cache_clear()
    start = threading.Barrier(4)

    def detect():
        start.wait()
        language.detect_language("The weather is lovely today in the park.")

    threads = [threading.Thread(target=detect) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    language._load_profiles.cache_clear()  # the next test loads the real factory's again
    assert len(loads) == 1
