"""Blind screening: personal data in a text replaced by typed placeholders, counted by type.

Detection is presidio-analyzer's recogniser framework, driven by the installed spaCy model
(``en_core_web_sm``, hash-checked by the registry and loaded from its folder, so presidio never
tries to download its default large model): spaCy's named entities for names, places and
nationalities, ``phonenumbers`` for phone numbers, presidio's e-mail recogniser (its domain
check reads tldextract's bundled suffix list, never the network), its IBAN (checksum) and
card-number (Luhn) recognisers, and pattern and word-list recognisers for what a CV adds:
street addresses, UK postcodes, obfuscated e-mails ("name [at] example [dot] com"), dates of
birth and ages in figures or words, UK National Insurance and labelled passport numbers,
gender words and pronouns, marital status, personal profile URLs (LinkedIn, GitHub, ...) and
other URLs.

A CV's header line (the candidate's name, often in capitals that the small NER misses) is a
name when it is two to four words without digits; every name found is then redacted wherever
else its words appear. Words of the job's requirements (``allow``) are never redacted, since
the small NER takes "Java" or "Kubernetes" for a place or a person now and then.

``Redactor.redact(text)`` -> ``Redaction(text, counts)``: "Alfred <PERSON> ..." with
``{"PERSON": 2, "EMAIL": 1}``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from mmfuse.registry import resolve
from mmfuse.tasks.screening.sections import header_end

SPACY_MODEL_ID = "spacy:en_core_web_sm"
PRESIDIO_LOGGER = "presidio-analyzer"
# spaCy entity types kept (presidio's names): ORGANIZATION and DATE_TIME would take employers
# and employment dates, which screening needs and which do not identify a candidate.
NER_ENTITIES = ("PERSON", "LOCATION", "NRP")
SPACY_LABELS = ("PERSON", "GPE", "LOC", "FAC", "NORP")  # spaCy's labels for those
# Below this presidio score a finding is dropped (spaCy findings score 0.85, patterns as set).
MIN_SCORE = 0.4
# Phone numbers: regions whose formats phonenumbers tries on numbers without a country code.
PHONE_REGIONS = ("US", "GB", "IN", "DE", "FR")  # each region is a full scan: few, common ones
GENDER_WORDS = (
    "he", "she", "him", "her", "his", "hers", "himself", "herself", "male", "female",
    "man", "woman", "men", "women", "mr", "mrs", "ms", "miss", "sir", "madam", "gentleman",
    "lady", "boy", "girl", "husband", "wife", "mother", "father", "son", "daughter",
    "transgender", "non-binary", "nonbinary",
)  # fmt: skip
MARITAL_WORDS = ("married", "unmarried", "divorced", "widowed", "widow", "widower", "spouse")
# Dates after a birth label, in figures or words: "14.03.1987", "the fourteenth of March 1987",
# "March 14th, 1987", "in 1987" (a month is any word, so "14 mars 1987" too).
_MONTH = r"[^\W\d_]{3,12}\.?"
_UNITS = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TENS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_DAY = (
    r"(?:\d{1,2}(?:st|nd|rd|th)?|(?:(?:twenty|thirty)[\s-]?)?(?:first|second|third|fourth|fifth"
    r"|sixth|seventh|eighth|ninth)|tenth|eleventh|twelfth"
    r"|(?:thir|four|fif|six|seven|eigh|nine)teenth|twentieth|thirtieth)"
)
_YEAR = (
    rf"(?:(?:19|20)\d{{2}}|nineteen[\s-]+{_TENS}(?:[\s-]?{_UNITS})?"
    rf"|two[\s-]+thousand(?:[\s-]+(?:and[\s-]+)?{_UNITS})?)"
)
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}"
    rf"|(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}"
    rf"|{_MONTH}\s+(?:the\s+)?{_DAY},?\s+{_YEAR}"
    rf"|(?:in\s+)?(?:{_MONTH}\s+)?{_YEAR})\b"
)
# An age, 16 to 99, in figures or words ("52", "fifty-two", "eighteen"): "a 10-year-old
# monolith" and "5 years of experience" are no ages.
_AGE = rf"(?:1[6-9]|[2-9]\d|{_TENS}(?:[\s-]?{_UNITS})?|(?:six|seven|eigh|nine)teen)"
_DECADES = r"(?:twenties|thirties|forties|fifties|sixties|seventies|[2-7]0'?s)"
_STREET_TYPES = (
    r"St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Ln|Lane|Dr|Drive|Way|Ct|Court|Pl|Place"
    r"|Terrace|Sq|Square|Hwy|Highway|Pkwy|Parkway|Cres|Crescent|Close|Strasse|Straße"
)
# (entity, regex, score) pattern recognisers; matching is case-insensitive unless (?-i).
PATTERNS = (
    ("DATE_OF_BIRTH", rf"\b(?:date\s+of\s+birth|birth\s*date|d\.?o\.?b\.?|born(?:\s+on)?)"
                      rf"\s*[:\-]?\s*{_DATE}", 0.9),
    ("AGE", rf"\bage[d]?\s*[:\-]?\s*(?:\d{{1,2}}|{_AGE})\b", 0.8),  # "Age: 34", "aged fifty"
    ("AGE", rf"\b{_AGE}[\s-]*(?:years?|yrs?)[\s-]+(?:old|of\s+age)\b|\b{_AGE}\s*(?:y/o|yo)\b", 0.8),
    ("AGE", rf"\bin\s+(?:my|his|her|their)\s+(?:(?:early|mid|late)[\s-]+)?{_DECADES}", 0.8),
    # Two letters, three pairs of digits, A-D; presidio's UkNinoRecognizer leaves out the
    # prefixes never issued, among them QQ, the one in HMRC's examples.
    ("UK_NINO", r"\b(?-i:[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D])\b", 0.6),
    # A passport number after its label: bare, it is any 9 digits or 2 letters and 7 digits.
    ("PASSPORT", r"\bpassport(?:\s+(?:no|num|number|#|id))?\.?\s*[:#-]?\s*"
                 r"(?=[A-Z]{0,3}\d)[A-Z0-9]{6,9}\b", 0.9),
    # presidio's UkPostcodeRecognizer's formats in capitals, scored without its context words;
    # "M1 8GB" and "PS4 1TB" are hardware, not postcodes.
    ("UK_POSTCODE", r"\b(?![A-Z]{1,2}\d{1,2}[A-Z]?\s?\d[GT]B\b)(?-i:GIR\s?0AA"
                    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]?\s?[0-9][ABD-HJLNP-UW-Z]{2}"
                    r"|[A-PR-UWYZ][0-9]{2}\s?[0-9][ABD-HJLNP-UW-Z]{2}"
                    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]?\s?[0-9][ABD-HJLNP-UW-Z]{2}"
                    r"|[A-PR-UWYZ][A-HK-Y][0-9]{2}\s?[0-9][ABD-HJLNP-UW-Z]{2})\b", 0.6),
    # E-mail addresses written against scrapers: "name [at] example [dot] com", "name at
    # example dot com".
    ("EMAIL_ADDRESS", r"\b[\w.+-]+\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*[\w-]+"
                      r"(?:(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\.)[\w-]+)+", 0.8),
    ("EMAIL_ADDRESS", r"\b[\w.+-]+\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)*\s+dot\s+[a-z]{2,6}\b", 0.6),
    ("ADDRESS", rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w.'-]*\s+){{1,4}}"
                rf"(?-i:{_STREET_TYPES})\b\.?", 0.7),
    ("MARITAL_STATUS", r"\bmarital\s+status\s*[:\-]?\s*\w+", 0.9),
    ("NRP", r"\b(?:nationality|citizenship)\s*[:\-]?\s*[A-Z][a-z]+", 0.9),
    ("URL", r"(?:https?://)?(?:www\.)?(?:linkedin\.com/in|github\.com|gitlab\.com|twitter\.com"
            r"|x\.com|facebook\.com|instagram\.com)/[\w.%-]+/?", 0.9),
    ("URL", r"/(?:linkedin-in|linkedin|github|gitlab|twitter)\s+[\w.-]+", 0.8),  # icon fonts
    ("URL", r"\bhttps?://[^\s<>\"']+|\bwww\.[^\s<>\"']+", 0.6),
)  # fmt: skip
# A header line that is a name: 2-4 words of letters (initials, hyphens, apostrophes).
_NAME_LINE = re.compile(r"^(?:[A-Za-z][A-Za-z.'-]*\s+){1,3}[A-Za-z][A-Za-z.'-]*$")
_HEADER_LINES = 3  # lines at the top of a CV that may hold the name
_NOT_NAMES = frozenset(
    {"curriculum", "vitae", "resume", "résumé", "cv", "profile", "summary", "contact"}
)


@dataclass(frozen=True)
class Redaction:
    """A redacted text and what was taken out.

    Attributes:
        text: the text with each finding replaced by ``<TYPE>``.
        counts: findings per type, e.g. {"PERSON": 2, "EMAIL": 1}.
        terms: ``(offset in text, lowercase lemma)`` of the words left (no stop words,
            punctuation or spaces), from the same spaCy pass that found the personal data,
            so that bag-of-words matching needs no second pass.
    """

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    terms: tuple[tuple[int, str], ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _offline_email_recognizer():
    """presidio's e-mail recogniser with tldextract's bundled suffix list (no HTTP fetch)."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    return OfflineEmailRecognizer()


@lru_cache(maxsize=1)
def analyzer():
    """The presidio AnalyzerEngine over the registry's spaCy model, built once.

    presidio's own logger is held at ERROR: its debug lines quote the text around each
    finding, which would put the personal data into the logs that ``-v`` shows.
    """
    logging.getLogger(PRESIDIO_LOGGER).setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
    )

    from mmfuse.tasks.screening.preprocess import nlp

    model = resolve(SPACY_MODEL_ID).source
    ignored = [label for label in nlp().get_pipe("ner").labels if label not in SPACY_LABELS]
    engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": model}],
        ner_model_configuration=NerModelConfiguration(labels_to_ignore=ignored),
    )
    engine.nlp = {"en": nlp()}  # the shared pipeline (no parser): presidio never loads its own
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
    registry.add_recognizer(PhoneRecognizer(supported_regions=PHONE_REGIONS))
    registry.add_recognizer(_offline_email_recognizer())
    registry.add_recognizer(IbanRecognizer())  # checksum-validated
    registry.add_recognizer(CreditCardRecognizer())  # Luhn-validated
    by_entity: dict[str, list] = {}
    for entity, regex, score in PATTERNS:
        by_entity.setdefault(entity, []).append(Pattern(entity.lower(), regex, score))
    for entity, patterns in by_entity.items():
        registry.add_recognizer(
            PatternRecognizer(entity, patterns=patterns, name=f"mmfuse_{entity.lower()}")
        )
    registry.add_recognizer(PatternRecognizer("GENDER", deny_list=list(GENDER_WORDS)))
    registry.add_recognizer(PatternRecognizer("MARITAL_STATUS", deny_list=list(MARITAL_WORDS)))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def header_name(text: str) -> tuple[int, int] | None:
    """The character span of a name on one of the first lines of a CV, or None."""
    offset = 0
    for line in text.splitlines(keepends=True)[:_HEADER_LINES]:
        stripped = line.strip()
        words = stripped.lower().split()
        if _NAME_LINE.match(stripped) and not _NOT_NAMES.intersection(words):
            start = offset + line.index(stripped)
            return start, start + len(stripped)
        offset += len(line)
    return None


def _resolve_overlaps(spans: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str]]:
    """Non-overlapping spans, the longer (then the surer) one winning, in text order."""
    kept: list[tuple[int, int, str, float]] = []
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), -s[3], s[0])):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return [(s, e, t) for s, e, t, _ in sorted(kept)]


class Redactor:
    """Finds and replaces personal data (see the module docstring).

    Args:
        allow: words and phrases never redacted (the job's skills), case-insensitive.
        cv_header: treat a name-like first line as the candidate's name.
    """

    def __init__(self, allow: Iterable[str] = (), cv_header: bool = True):
        self.allow = sorted({a.strip() for a in allow if a.strip()} | {a.lower() for a in allow})
        self._allow_lower = {a.lower() for a in self.allow}
        self._allow_words = {w for a in self._allow_lower for w in re.findall(r"[^\W\d_]+", a)}
        self.cv_header = cv_header

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, type)`` spans of personal data in ``text``."""
        return self._find(text)[0]

    def _find(self, text: str):
        engine = analyzer()
        artifacts = engine.nlp_engine.process_text(text, "en")
        results = engine.analyze(
            text, language="en", score_threshold=MIN_SCORE, nlp_artifacts=artifacts
        )
        header = header_end(text) if self.cv_header else len(text)
        lowercase_words = set(re.findall(r"\b[a-z][a-z'-]+\b", text))
        spans, names = [], set()
        for r in results:
            piece = text[r.start : r.end]
            from_ner = r.recognition_metadata.get("recognizer_name") == "SpacyRecognizer"
            if from_ner and r.entity_type in ("LOCATION", "NRP") and r.start >= header:
                continue  # employers' cities, "Agile": only the contact lines hold the candidate's
            if r.entity_type == "PERSON":
                if not self._plausible_name(piece, lowercase_words):
                    continue
                names.add(piece)
            if piece.strip().lower() in self._allow_lower:
                continue
            spans.append((r.start, r.end, r.entity_type, r.score))
        if self.cv_header and (found := header_name(text)):
            spans.append((*found, "PERSON", 1.0))
            names.add(text[found[0] : found[1]])
        mentions = _name_mentions(text, names, self._allow_lower)
        spans.extend((s, e, "PERSON", 0.5) for s, e in mentions)
        return _resolve_overlaps(spans), artifacts.tokens

    def _plausible_name(self, piece: str, lowercase_words: set[str]) -> bool:
        """Whether a spaCy PERSON finding looks like a person's name rather than a skill.

        The small model calls "React", "Product Manager" or "Spring Boot" a person now and
        then: a name here is 2-4 capitalised words on one line, none of them an allowed term
        and none also used in lowercase in the text ("product").
        """
        words = piece.split()
        if "\n" in piece or not 2 <= len(words) <= 4 or not _NAME_LINE.match(piece):
            return False
        return not any(
            w.lower() in self._allow_words or w.lower() in lowercase_words or not w[0].isupper()
            for w in words
        )

    def redact(self, text: str) -> Redaction:
        """``text`` with every finding replaced by ``<TYPE>``, and the counts per type."""
        if not text.strip():
            return Redaction(text, {})
        spans, doc = self._find(text)
        pieces, last, shifts = [], 0, []  # shifts: (original end, cumulative offset change)
        for start, end, kind in spans:
            pieces.append(text[last:start])
            placeholder = f"<{kind}>"
            pieces.append(placeholder)
            delta = (shifts[-1][1] if shifts else 0) + len(placeholder) - (end - start)
            shifts.append((end, delta))
            last = end
        pieces.append(text[last:])
        terms, index, change = [], 0, 0
        for token in doc:
            while index < len(spans) and spans[index][1] <= token.idx:
                change = shifts[index][1]
                index += 1
            inside = index < len(spans) and spans[index][0] < token.idx + len(token)
            if inside or token.is_punct or token.is_space or token.is_stop:
                continue
            terms.append((token.idx + change, token.lemma_.lower()))
        counts = dict(Counter(kind for _, _, kind in spans))
        return Redaction("".join(pieces), counts, tuple(terms))


def text_terms(text: str) -> Redaction:
    """``text`` unredacted with its terms (``--keep-pii``): the same spaCy pass, no recognisers."""
    from mmfuse.tasks.screening.preprocess import nlp

    doc = nlp()(text)
    terms = tuple(
        (t.idx, t.lemma_.lower()) for t in doc if not (t.is_punct or t.is_space or t.is_stop)
    )
    return Redaction(text, {}, terms)


def _name_mentions(text: str, names: set[str], allowed: set[str]) -> list[tuple[int, int]]:
    """Spans of the words of ``names`` (3+ letters, not allowed terms) anywhere in ``text``."""
    words = {
        w
        for name in names
        for w in re.findall(r"[^\W\d_]{3,}", name)
        if w.lower() not in allowed and w.lower() not in GENDER_WORDS
    }
    if not words:
        return []
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\b", re.I)
    return [m.span() for m in pattern.finditer(text)]
