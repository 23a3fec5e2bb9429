"""An interview recording into row columns: transcript (redacted), delivery, answers, quality.

``Interviewer.columns`` transcribes with word times (``FILLER_PROMPT`` keeps "um" and "uh"),
redacts every segment's text and every question before anything else reads them (the
transcript, the answers, the embeddings), then computes the metrics of ``interview``. The
Whisper model is loaded on first use, so a run without interviews never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmfuse.errors import InputError
from mmfuse.tasks.screening.interview import (
    FILLER_PROMPT,
    QUALITY_FRAMES,
    RecordingQuality,
    align_answers,
    delivery,
    recording_quality,
    sentiment,
)
from mmfuse.tasks.screening.matching import meaning_score
from mmfuse.tasks.screening.tokens import interview_tokens, token_columns
from mmfuse.types import media_kind

LANGUAGE = "en"  # the text models are English; Whisper is told so rather than guessing
MIN_FRAME_STEP_S = 1.0


@dataclass
class Recording:
    """A decoded interview: 16 kHz mono audio and, for a video, frames for the quality check."""

    audio: np.ndarray
    frames: list[np.ndarray] = field(default_factory=list)
    is_video: bool = False


def read_recording(path: Path) -> Recording:
    """Decodes an interview file (file IO only, in the decode threads).

    Raises:
        InputError: the file cannot be decoded (no audio track, corrupt, truncated).
    """
    from mmfuse.io.audio import load_audio

    audio = load_audio(path)
    if media_kind(path) != "video":
        return Recording(audio)
    from mmfuse.io.video import probe_video, sample_frames

    try:
        duration = probe_video(path).duration or 0.0
        step = max(MIN_FRAME_STEP_S, duration / QUALITY_FRAMES)
        frames = [f.image for f in sample_frames(path, step, max_frames=QUALITY_FRAMES)]
    except InputError:  # the soundtrack was read; a picture that cannot be is a quality issue
        frames = []
    return Recording(audio, frames, is_video=True)


class Interviewer:
    """Interview columns for one job (see the module docstring).

    Args:
        speech_model: ``backend:name`` of the Whisper model.
        encoder: the sentence encoder the CVs use.
        redact: text -> redacted text (identity with ``--keep-pii``).
        requirement_vectors: float32 [R, dim] unit embeddings of the job's requirements.
        device: where Whisper runs.
    """

    def __init__(self, speech_model: str, encoder, redact, requirement_vectors, device: str):
        self.speech_model = speech_model
        self.encoder = encoder
        self.redact = redact
        self.requirements = requirement_vectors
        self.device = device
        self._speech = None

    @property
    def speech(self):
        if self._speech is None:
            from mmfuse.encoders.base import create_encoder

            self._speech = create_encoder(self.speech_model, self.device)
        return self._speech

    def _relevance(self, vector: np.ndarray, question: np.ndarray | None) -> float:
        to_job = (
            float(meaning_score(self.requirements @ vector).max())
            if len(self.requirements)
            else None
        )
        to_question = (
            float(meaning_score(np.array(question @ vector))) if question is not None else None
        )
        parts = [p for p in (to_job, to_question) if p is not None]
        return float(np.mean(parts)) if parts else 0.0

    def columns(self, recording: Recording, questions: Sequence[str]) -> tuple[dict, list[str]]:
        """The interview columns of a row, and notes."""
        notes: list[str] = []
        questions = [self.redact(q) for q in questions]  # as the transcript is, before use
        segments, words = self.speech.transcribe_words(
            recording.audio, language=LANGUAGE, prompt=FILLER_PROMPT
        )
        texts = [self.redact(s.text) for s in segments]
        quality = recording_quality(recording.frames) if recording.is_video else RecordingQuality()
        if recording.is_video and not recording.frames:
            quality.issues.append("no picture")
        timing = delivery(words)
        row = {
            "interview_transcript": " ".join(texts),
            "speaking_rate_wpm": timing.speaking_rate_wpm,
            "pause_ratio": timing.pause_ratio,
            "long_pauses": timing.long_pauses,
            "filler_rate": timing.filler_rate,
            "recording_quality": quality.label(),
        }
        if not texts:
            notes.append("no speech in the interview recording")
            return {**row, "answers": "[]"}, notes
        vectors = self.encoder.encode([*texts, *questions])
        segment_vectors, question_vectors = vectors[: len(texts)], vectors[len(texts) :]
        to_job = (
            meaning_score(segment_vectors @ self.requirements.T).max(axis=1)
            if len(self.requirements)
            else np.zeros(len(texts), np.float32)
        )
        row[token_columns("interview")] = interview_tokens(segment_vectors, to_job)
        groups = align_answers(segment_vectors, question_vectors, segments) if questions else []
        answers = []
        for index, group in enumerate(groups):
            answer = " ".join(texts[i] for i in group)
            record = {"question": questions[index], "answer": answer, "relevance": None}
            if answer:
                vector = self.encoder.encode([answer])[0]
                record["relevance"] = round(self._relevance(vector, question_vectors[index]), 4)
                record["start"], record["end"] = segments[group[0]].start, segments[group[-1]].end
            answers.append(record)
        scored = [a["relevance"] for a in answers if a["relevance"] is not None]
        if not questions:
            whole = segment_vectors.mean(axis=0)
            whole /= max(float(np.linalg.norm(whole)), 1e-12)
            scored = [self._relevance(whole, None)]
        elif not scored:
            notes.append("no answer found for the questions")
        row.update(
            {
                "answers": json.dumps(answers, ensure_ascii=False),
                "answer_relevance": round(float(np.mean(scored)), 4) if scored else None,
                "answer_sentiment": sentiment([a["answer"] for a in answers] or texts),
            }
        )
        return row, notes
