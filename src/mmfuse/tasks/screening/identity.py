"""Candidate ids that do not name the candidate.

Blind screening redacts the CV, but a folder called ``Cornelius_Vandermeer_1985`` or
``ignatius.fairweather@example.org`` would still put the candidate in every row, log line and
cache entry. Every id is read by the redactor's recognisers (``carried_pii``): e-mail
addresses, phone numbers and the other identifiers by their patterns and checksums, names by
spaCy's NER over the id's words (two or more). An id that carries any is replaced by ``cand-``
and ten hex digits of HMAC-SHA256 under a secret salt: the same id gives the same replacement
on this machine, so resumed runs and the cache still work, and it cannot be turned back without
the salt. Ordinary ids (``big_txt``, ``cand_pm``, ``candidate_07``) stay as they are, and
``--ids-are-safe`` keeps every id as given. The salt is 32 random bytes created once in the
cache root (readable by the owner only). The mapping back is written only where the user asks
for it (``--id-key FILE``), to be kept apart from what reviewers see.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from mmfuse import config
from mmfuse.fairness import BLIND_ID_PREFIX
from mmfuse.tasks.screening.pii import ROLE_WORDS
from mmfuse.types import Item

SALT_FILE = "screening-id-salt"
DIGITS = 10  # hex digits of the HMAC kept: 40 bits, no collision among a run's candidates
# What an id may carry that identifies a person: the redactor's types but for those that do
# not single anyone out in a folder name (gender words, marital status, nationality, places).
ID_ENTITIES = (
    "EMAIL_ADDRESS", "URL", "UK_NINO", "PASSPORT", "IBAN_CODE", "CREDIT_CARD", "UK_POSTCODE",
    "DATE_OF_BIRTH", "AGE", "ADDRESS",
)  # fmt: skip
# The small NER finds a bare name in some sentences and not in others ("Marguerite Okonkwo"
# only in the third): the id's words are read in each, a name in any counts.
NAME_CARRIERS = ("{}", "Name: {}", "{} is a candidate.", "I am {}.")
# A name in an id is two words or more ("jane_doe", "Dr Ignatia Q Blomqvist-Harrow"): on one
# word alone the NER guesses, "Broken" a person in every sentence, "Marguerite" in none.
MIN_NAME_WORDS = 2
# Words ids are made of that the NER takes for a name now and then ("Sample Cv", "Cv Final
# V2", "Team Lead"): a PERSON finding needs a word of two or more letters outside these, the
# skills lexicon and the job's words.
ORDINARY_ID_WORDS = ROLE_WORDS | frozenset(
    (
        "cand", "candidate", "candidates", "applicant", "applicants", "app", "cv", "cvs", "resume",
        "resumes", "résumé", "lebenslauf", "profile", "sample", "samples", "test", "tests", "demo",
        "example", "final", "draft", "new", "old", "copy", "version", "file", "files", "folder",
        "doc", "docx", "pdf", "txt", "img", "image", "id", "no", "num", "number", "pm", "am", "ok",
        "big", "small", "dev", "devs", "grad", "graduate", "internship", "role", "job", "position",
        "batch", "round", "group", "set", "pool", "shortlist", "hire", "hires", "hiring",
        "interview", "interviews", "video", "audio", "recording", "full", "stack", "cloud", "ml",
        "ai", "qa", "ux", "ui", "sales", "marketing", "ops", "support", "emea", "apac", "amer",
        "uk", "us", "eu", "remote", "onsite", "hybrid"
    )
)  # fmt: skip
# Phone numbers in an id: a possible number (phonenumbers, the redactor's regions) written as
# one, "+44 ...", "07700 ...", "(020) ..." with this many digits, or a valid North American one
# ("212-555-0199"). Ofcom's drama range "+44 7700 900123" is no valid number, and German
# numbering takes dates and photo names ("2023-04-15", "IMG_20230415_123456") for numbers.
PHONE_MIN_DIGITS = 9
NANP_DIGITS = 10


def id_salt() -> bytes:
    """This machine's secret salt (``SALT_FILE`` in the cache root), created on first use."""
    path = config.cache_dir() / SALT_FILE
    if not path.is_file():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(32))
    return path.read_bytes()


def blind_id(item_id: str, salt: bytes) -> str:
    """``cand-`` and ten hex digits of HMAC-SHA256(salt, id)."""
    digest = hmac.new(salt, item_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return BLIND_ID_PREFIX + digest[:DIGITS]


def _id_words(item_id: str) -> list[str]:
    """The id's words of letters, cased as a name would be ("jane_doe" -> Jane, Doe)."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", item_id)
    return [w if w.isupper() and len(w) > 1 else w[:1].upper() + w[1:] for w in words]


def _has_phone(item_id: str) -> bool:
    import phonenumbers

    from mmfuse.tasks.screening.pii import PHONE_REGIONS

    text = item_id.replace("_", " ")
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            digits = sum(c.isdigit() for c in match.raw_string)
            if match.raw_string[:1] in "+0(" and digits >= PHONE_MIN_DIGITS:
                return True
            if (
                region == "US"
                and digits == NANP_DIGITS
                and phonenumbers.is_valid_number(match.number)
            ):
                return True
    return False


@lru_cache(maxsize=4096)
def _carried_pii(item_id: str, allowed: frozenset[str]) -> tuple[str, ...]:
    from mmfuse.tasks.screening.pii import MIN_SCORE, analyzer

    engine, found = analyzer(), set()
    for text in dict.fromkeys((item_id, item_id.replace("_", " "))):
        results = engine.analyze(
            text, language="en", entities=list(ID_ENTITIES), score_threshold=MIN_SCORE
        )
        found.update(r.entity_type for r in results)
    if _has_phone(item_id):
        found.add("PHONE_NUMBER")
    words = _id_words(item_id)
    name = " ".join(words)
    for carrier in NAME_CARRIERS if len(words) >= MIN_NAME_WORDS else ():
        text, start = carrier.format(name), carrier.index("{}")
        results = engine.analyze(
            text, language="en", entities=["PERSON"], score_threshold=MIN_SCORE
        )
        for r in results:
            piece = text[max(r.start, start) : min(r.end, start + len(name))]
            words = [w.lower() for w in re.findall(r"[^\W\d_]{2,}", piece)]
            if any(w not in ORDINARY_ID_WORDS and w not in allowed for w in words):
                found.add("PERSON")
    return tuple(sorted(found))


def carried_pii(item_id: str, allow: Iterable[str] = ()) -> tuple[str, ...]:
    """The kinds of personal data an id carries ("PERSON", "EMAIL_ADDRESS", ...), sorted.

    Args:
        item_id: a candidate's id (a folder or file stem, a manifest's id).
        allow: words that are never a name here (the job's and the skills lexicon's).
    """
    from mmfuse.tasks.screening.skills import all_terms

    allowed = frozenset(w.lower() for term in (*all_terms(), *allow) for w in term.split())
    return _carried_pii(item_id, allowed)


def blind_items(
    items: Sequence[Item], salt: bytes, allow: Iterable[str] = ()
) -> tuple[list[Item], dict[str, str]]:
    """The items with ids that carry personal data replaced (``blind_id``), and new id ->
    original id."""
    allow = tuple(allow)
    out, key = [], {}
    for item in items:
        if carried_pii(item.id, allow):
            new = blind_id(item.id, salt)
            key[new] = item.id
            item = dataclasses.replace(item, id=new)
        out.append(item)
    return out, key


def write_key(path: Path, key: dict[str, str]) -> None:
    """``id,original_id`` rows of the replaced ids, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "original_id"])
        writer.writerows(sorted(key.items()))
