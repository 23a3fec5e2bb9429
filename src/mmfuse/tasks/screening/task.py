"""Interview-plus-CV screening: blind CV-job matching, interview metrics, a ranked fit score.

The task: its options, decode (CV, interview files) and process (rows), ranks at the end.

See ``mmfuse.tasks.screening`` for what the columns mean.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from mmfuse import __version__, registry
from mmfuse.errors import InputError, ModelUnavailable, UsageError
from mmfuse.io.documents import count_images, read_document
from mmfuse.nlp.language import detect_language
from mmfuse.tasks.base import Task
from mmfuse.tasks.media import text_precision_option
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.tasks.screening.answers import Recording, read_recording
from mmfuse.tasks.screening.documents import LANGUAGE_SAMPLE, choose_cv, language_note
from mmfuse.tasks.screening.identity import blind_items, id_salt, write_key
from mmfuse.types import Item, media_kind

log = logging.getLogger(__name__)

# Names of the interview-questions file in a candidate's folder (one question a line).
QUESTION_FILES = ("questions.txt", "questions.md")
# Manifest columns that are the CV itself, never passed through. Path columns (cv, resume,
# cv_path, recording, video, ...) become the item's files in discovery, confined to the
# manifest's folder.
CV_TEXT_COLUMNS = ("cv_text", "text")
# Characters of a CV that are read; the rest is cut, with a note. spaCy refuses a text over its
# max_length (1,000,000, "[E088]") and its NER needs about 1 GB per 100,000 characters; a CV
# is seldom over 20,000 (about ten pages).
MAX_CV_CHARS = 100_000
DEFAULT_BATCH = 32  # CVs per process call: their sentences are embedded in one batch
COLUMNS = (
    "id",
    "rank",
    "fit_score",
    "cv_match_score",
    "must_have_met",
    "must_have_total",
    "matched_requirements",
    "missing_requirements",
    "years_experience",
    "degree",
    "cv_language",
    "must_have_coverage",
    "nice_to_have_coverage",
    "experience_fit",
    "cv_job_similarity",
    "answer_relevance",
    "knocked_out",
    "interview_transcript",
    "speaking_rate_wpm",
    "pause_ratio",
    "long_pauses",
    "filler_rate",
    "answers",
    "answer_sentiment",
    "recording_quality",
    "pii_redacted",
    "cv_sections",
)
LEARNED_COLUMNS = ("learned_score", "learned_prediction")  # with --model, after rank


@dataclass(frozen=True)
class ScreeningOptions:
    """What a screening run computes (everything here but id_key keys the cache)."""

    job: Path | None = option(None, "the job description: a TXT, PDF or DOCX file")
    job_text: str | None = option(None, "the job description as text (instead of --job)")
    keep_pii: bool = option(
        False,
        "do not redact personal data, nor replace ids that carry it (blind is the default)",
    )
    ids_are_safe: bool = option(
        False,
        "keep every candidate id as given (by default an id that carries a name, an e-mail "
        "address, a phone number or another identifier is replaced by a cand-... id)",
    )
    id_key: Path | None = option(
        None,
        "write id,original_id for the ids replaced because they carry personal data to this "
        "CSV file (keep it apart from what reviewers see)",
        changes_no_row="where the mapping is written",
    )
    must_have_all: bool = option(
        False, "mark (never drop) candidates who miss any must-have requirement"
    )
    text_model: str = option("", "sentence encoder (default: the registry's)")
    text_precision: str = text_precision_option()
    speech_model: str = option("", "speech recogniser for interviews (default: the registry's)")
    as_of: str = option(
        "", "the date 'present' means in CV date ranges, YYYY-MM-DD (default: today)"
    )
    model: Path | None = option(
        None,
        "a screening head trained by `mmfuse train` on past decisions: adds learned_score "
        "and learned_prediction and ranks by learned_score (the parts and fit_score stay)",
    )

    def __post_init__(self):
        if self.job is None and not (self.job_text or "").strip():
            raise UsageError("screening needs --job FILE or --job-text TEXT")
        if self.job is not None and not self.job.is_file():
            raise UsageError(f"job description not found: {self.job}")
        if self.model is not None and not self.model.is_dir():
            raise UsageError(f"--model {self.model}: not a folder")
        if self.as_of:
            try:
                date.fromisoformat(self.as_of)
            except ValueError:
                raise UsageError(f"--as-of {self.as_of!r} is not a YYYY-MM-DD date") from None

    def read_job(self) -> str:
        """The job description's text, as given.

        Raises:
            UsageError: the file cannot be read, or the description is empty or blank.
        """
        if self.job_text and self.job_text.strip():
            return self.job_text
        try:
            text = read_document(self.job)
        except InputError as error:
            raise UsageError(f"job description: {error}") from None
        if not text.strip():
            raise UsageError(f"job description {self.job} is empty")
        return text


@dataclass
class Candidate:
    """One candidate read from disk: the CV text and the decoded interview recording."""

    cv_text: str
    images: int = 0  # photos embedded in the CV: never read, only counted as redacted
    questions: list[str] = field(default_factory=list)
    recording: Recording | None = None
    language: str = "und"  # ISO 639-1 code of the CV's language (``nlp.language``)
    notes: list[str] = field(default_factory=list)


@register_task("screening")
class ScreeningTask(Task):
    """CV-job matching, interview metrics and a fit score per candidate (see the package)."""

    description = """\
Interview-plus-CV screening, blind by default: which requirements of the job each
CV supports (with the sentence that supports it), what is missing, how the interview went, and
a fit score whose parts are columns. It assists a human decision and never decides alone;
faces, voices and appearance are never scored, and personal data is redacted first.

Input: one sub-folder per candidate with a CV (PDF, DOCX or TXT), optionally an interview
recording and questions.txt; or a CSV with id and cv_text (or a cv path column). The job
description: --job FILE or --job-text TEXT.

Read first in results.csv: rank, fit_score, missing_requirements. summary.csv: how many
candidates meet each requirement."""
    examples = (
        "mmfuse run screening candidates/ --job job.pdf -o out/screening",
        'mmfuse run screening candidates.csv --job-text "Data engineer: 5 years of Python, SQL"'
        " -o out/screening",
        "mmfuse run screening candidates/ --job job.pdf -o out/new --model my-head",
    )

    Options = ScreeningOptions
    trains = "head"  # on a finished run's rows and past decisions (``training``)

    @classmethod
    def example_options(cls) -> dict:
        return {"job_text": "Requirements:\n- 3+ years of Python\n- Docker is a plus"}

    @classmethod
    def example_model(cls, folder: Path) -> Path:
        """An untrained screening head saved in ``folder``."""
        from mmfuse.fusion.model import save_model
        from mmfuse.tasks.screening.head import Target, build_head

        save_model(build_head(Target("decision", ("yes", "no")), 8, {}).eval(), folder)
        return folder

    @classmethod
    def fit_head(cls, results, manifest, labels, options, positive=None):
        from mmfuse.tasks.screening.training import fit_from_run

        return fit_from_run(results, manifest, labels, options, positive)

    default_batch_size = DEFAULT_BATCH
    device_item_bytes = 64 * 2**20  # a CV's sentences and an interview's segments
    group_by = "folder"  # one sub-folder per candidate, whatever files it holds

    def __init__(self, options=None, items: Sequence[Item] = (), device: str | None = None):
        super().__init__(options, items, device)
        self.job_source = self.options.read_job()  # as given: only its hash is written
        skip = set(CV_TEXT_COLUMNS)
        self.meta_columns = tuple(
            dict.fromkeys(k for item in items for k in item.meta if k not in skip)
        )
        learned = LEARNED_COLUMNS if self.options.model else ()
        self.columns = (*COLUMNS[:2], *learned, *COLUMNS[2:], *self.meta_columns, "notes", "error")
        self.screener = None
        self.interviewer = None
        self.head = None

    def run_items(self, items: Sequence[Item]) -> Sequence[Item]:
        """Ids that carry personal data replaced (``identity``), unless ``keep_pii`` or
        ``ids_are_safe``; the job's words are never taken for a name."""
        if self.options.keep_pii or self.options.ids_are_safe:
            return items
        job_words = re.findall(r"[^\W\d_]{2,}", self.job_text)
        blinded, key = blind_items(items, id_salt(), allow=job_words)
        if key:
            log.warning(
                "%d candidate ids carried personal data (a name, an e-mail address, a phone "
                "number, ...) and were replaced by cand-... ids%s",
                len(key),
                f"; the mapping is in {self.options.id_key}"
                if self.options.id_key
                else " (--id-key FILE keeps the mapping)",
            )
        if self.options.id_key:
            write_key(self.options.id_key, key)
        return blinded

    @cached_property
    def job_text(self) -> str:
        """The job description with its personal data replaced (the hiring manager's name,
        e-mail and phone; ``screen.redact_job``), as given with ``keep_pii``: requirements,
        rows and summary.csv quote it."""
        from mmfuse.tasks.screening.screen import redact_job

        return self.job_source if self.options.keep_pii else redact_job(self.job_source)

    @property
    def text_model(self) -> str:
        return self.options.text_model or registry.default_model("text")

    @property
    def speech_model(self) -> str:
        return self.options.speech_model or registry.default_model("speech")

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.options.as_of) if self.options.as_of else date.today()

    def settings(self) -> dict:
        from mmfuse.cache import folder_digest
        from mmfuse.encoders.speech import WORD_OPTIONS
        from mmfuse.encoders.text import resolve_precision
        from mmfuse.tasks.screening import (
            date_words,
            graph,
            matching,
            pii,
            requirements,
            role,
            scoring,
            screen,
            sections,
            skills,
            tokens,
        )

        rules = json.dumps(
            [
                skills.SKILLS,
                scoring.WEIGHTS,
                pii.PATTERNS,
                matching.COSINE_FLOOR,
                matching.MET_SCORE,
                tokens.MODALITIES,  # rows cached before they carried tokens are not reused
                # nor rows whose requirements held the job's tail or its personal data
                requirements.TAIL_HEADINGS.pattern,
                "job redacted",
                "questions redacted",  # nor rows whose answers quoted the questions as given
                # nor rows of a cover letter read as the CV, without the CV's language, with
                # years missed in German or French, or with names left in sentences
                "cv chosen by name and content",
                "cv_language",
                date_words.MONTHS,
                date_words.PRESENT,
                date_words.RANGE_WORDS,
                date_words.SINCE_WORDS,
                [p.pattern for p in date_words.STATED_YEARS],
                sections.HEADINGS,
                sorted(pii.ROLE_WORDS),
                "names found once redacted everywhere",
                # nor rows matched before the skills graph, relevant years and degree fields
                graph.graph_digest(),
                matching.STRONG_MEANING,
                screen.ROLE_COSINE,
                screen.ADJACENT_FIELD_COSINE,
                scoring.FULL_AD_REQUIREMENTS,
                "short ad: requirement share from 0, whole-CV similarity",
                # nor rows of a short ad ranked before its role was read
                scoring.SHORT_AD_WEIGHTS,
                [role.ROLE_WINDOW, role.ROLE_TOP, role.ROLE_SKILL_HITS],
            ],
            sort_keys=True,
            default=str,
        )
        model = self.options.model
        return {
            "version": __version__,
            "model_sha256": folder_digest(model) if model else None,  # the head by its content
            "job_sha256": hashlib.sha256(self.job_source.encode()).hexdigest()[:16],
            "rules_sha256": hashlib.sha256(rules.encode()).hexdigest()[:16],
            "text_model": self.text_model,
            "speech_model": self.speech_model,
            "transcription": WORD_OPTIONS,
            "as_of": self.as_of.isoformat(),
            "blind": not self.options.keep_pii,
            "text_precision": resolve_precision(
                self.options.text_precision, registry.select_device(self.device)
            ),
        }

    # -- the stages -------------------------------------------------------------------------

    def setup(self) -> None:
        if self.screener is not None:
            return
        from mmfuse.encoders.text import TextEncoder
        from mmfuse.registry import resolve
        from mmfuse.tasks.screening.answers import Interviewer
        from mmfuse.tasks.screening.screen import Screener

        device = registry.select_device(self.device)
        ref = resolve(self.text_model)
        if ref.backend != "sentence-transformers":
            raise ModelUnavailable(f"{ref.id}: screening needs a sentence-transformers model")
        encoder = TextEncoder(ref, device, self.options.text_precision)
        self.screener = Screener(encoder, self.job_text, self.options.keep_pii, self.as_of)
        self.interviewer = Interviewer(
            self.speech_model,
            encoder,
            self.screener.redact_speech,
            self.screener.job.vectors,
            device,
        )
        if self.options.model:
            self.head = load_head(self.options.model, self.text_model, self.job_source, device)

    def item_message(self, item: Item, message: str) -> str:
        """``message`` with each of the item's file names (and paths) replaced by the file's
        kind (``file_kind``): a CV is often named after its candidate, and an error or a note
        reaches the row, the report, the manifest and the logs. The engine applies it to every
        error and note of an item; ``decode`` to the note it makes of an interview's error."""
        for path in sorted(item.paths, key=lambda p: len(str(p)), reverse=True):
            message = message.replace(str(path), file_kind(path))
            message = message.replace(path.name, file_kind(path))
        return message

    def decode(self, item: Item) -> Candidate:
        """The candidate's files read (its errors are named by ``item_message`` in the engine)."""
        questions, cv_text, images = [], None, 0
        documents = [p for p in item.paths if p.name.lower() not in QUESTION_FILES]
        for path in item.paths:
            if path.name.lower() in QUESTION_FILES:
                questions = [q.strip() for q in read_document(path).splitlines() if q.strip()]
        notes = []
        if item.text is not None:
            cv_text = item.text
        else:
            cvs = [p for p in documents if media_kind(p) in ("document", "text")]
            if not cvs:
                raise InputError("no CV in the item (a PDF, DOCX or TXT file)")
            chosen, notes = choose_cv(cvs, read_document)
            cv_text, images = chosen.text, count_images(chosen.path)
            notes = [self.item_message(item, note) for note in notes]
        if not cv_text.strip():
            raise InputError("the CV is empty")
        recordings = [p for p in item.paths if media_kind(p) in ("audio", "video")]
        interview = recordings[0] if recordings else None
        cv_text, cut = cut_cv(cv_text)
        language, _ = detect_language(cv_text[:LANGUAGE_SAMPLE])
        candidate = Candidate(cv_text, images, questions, language=language, notes=notes)
        if cut:
            candidate.notes.append(cut)
        if note := language_note(language):
            candidate.notes.append(note)
        if interview is not None:
            try:
                candidate.recording = read_recording(interview)
            except InputError as error:  # the CV is still screened
                candidate.notes.append(self.item_message(item, f"interview not read: {error}"))
        return candidate

    def process(self, batch: Sequence[tuple[Item, Candidate]]) -> list[dict]:
        from mmfuse.tasks.screening.screen import cv_columns

        if self.screener is None:
            self.setup()
        candidates = [c for _, c in batch]
        results = self.screener.screen([c.cv_text for c in candidates])
        rows = []
        for (item, candidate), result in zip(batch, results, strict=True):
            counts = dict(result.redaction.counts)
            if candidate.images and not self.options.keep_pii:
                counts["PHOTO"] = candidate.images
            notes = list(candidate.notes)
            interview = {}
            if candidate.recording is not None:
                interview, more = self.interviewer.columns(candidate.recording, candidate.questions)
                notes.extend(more)
            row = {**cv_columns(result, interview.get("answer_relevance")), **interview}
            must = [m for m in result.matches if m.requirement.must]
            knocked = self.options.must_have_all and any(not m.met for m in must)
            if knocked:
                notes.append("knocked out: a must-have requirement is not met")
            if not result.matches:
                notes.append("no requirements found in the job description")
            row.update(
                {
                    "knocked_out": knocked,
                    "pii_redacted": json.dumps(counts, sort_keys=True),
                    "cv_language": candidate.language,
                    **{c: item.meta.get(c, "") for c in self.meta_columns},
                    "notes": "; ".join(notes),
                }
            )
            rows.append(row)
        if self.head is not None:
            for row, learned in zip(rows, self.head.predict(rows), strict=True):
                row.update(learned)
        return rows

    def complete(self, rows: Sequence[dict]) -> list[dict]:
        from mmfuse.tasks.screening.summary import ranked

        return ranked(rows, "learned_score" if self.options.model else "fit_score")

    def models_used(self, rows: Sequence[dict], named: Sequence[dict]) -> list[dict]:
        """The sentence encoder, spaCy's English model (lemmas, and the names and places that
        redaction finds), the speech model only when some candidate had an interview, and a
        trained head when one ranked them."""
        from mmfuse.cache import folder_digest
        from mmfuse.tasks.screening.preprocess import SPACY_MODEL_ID

        interviewed = any(row.get("recording_quality") for row in rows)
        kept = [m for m in named if interviewed or m["id"] != self.speech_model]
        head = self.options.model
        if head:
            kept.append({"id": str(head), "sha256": folder_digest(head), "package": "",
                         "licence": "trained by you (mmfuse train)"})  # fmt: skip
        return [*kept, registry.model_record(SPACY_MODEL_ID)]

    def finish(self, rows: Sequence[dict], out_dir: Path) -> list[Path]:
        from mmfuse.tasks.screening.summary import write_outputs

        return write_outputs(rows, self.screener_requirements(), out_dir)

    @classmethod
    def report_rows(cls, rows):
        from mmfuse.tasks.screening.report import readable_rows

        return readable_rows(rows)

    @classmethod
    def report_sections(cls, rows, out_dir, files):
        from mmfuse.tasks.screening.report import report_sections

        return report_sections(rows, out_dir, files)

    def screener_requirements(self):
        """The job's requirements (loading no model but the redactor's)."""
        from mmfuse.tasks.screening.requirements import extract_requirements

        return extract_requirements(self.job_text)


def file_kind(path: Path) -> str:
    """What a candidate's file is, for errors and notes: "CV (pdf)", "interview (mp4)",
    "questions (txt)"."""
    extension = path.suffix.lower().lstrip(".") or "no extension"
    if path.name.lower() in QUESTION_FILES:
        return f"questions ({extension})"
    if media_kind(path) in ("audio", "video"):
        return f"interview ({extension})"
    return f"CV ({extension})"


def cut_cv(text: str) -> tuple[str, str | None]:
    """The first MAX_CV_CHARS characters of a CV (at a line end when one is in their second
    half) and a note saying how much was read, or the CV as it is and None."""
    if len(text) <= MAX_CV_CHARS:
        return text, None
    end = text.rfind("\n", MAX_CV_CHARS // 2, MAX_CV_CHARS)
    kept = text[: end if end > 0 else MAX_CV_CHARS]
    return kept, f"CV cut: read the first {len(kept):,} of {len(text):,} characters"


def load_head(folder: Path, text_model: str, job_text: str, device: str):
    """The screening head of ``--model``, checked against this run's sentence encoder.

    Raises:
        UsageError: not a head, or one trained on tokens of another sentence encoder.
    """
    from mmfuse.tasks.screening.head import Head

    head = Head(folder, device)
    trained_with = head.meta.get("text_model")
    if trained_with and trained_with != text_model:
        raise UsageError(
            f"--model {folder} was trained on candidates screened with {trained_with}, "
            f"this run uses {text_model}"
        )
    job = hashlib.sha256(job_text.encode()).hexdigest()[:16]
    if head.meta.get("job_sha256") not in (None, job):
        log.warning("--model %s was trained for another job description", folder)
    return head
