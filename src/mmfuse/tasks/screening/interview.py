"""Interview metrics from a Whisper transcript with word times, and recording quality from frames.

Delivery (from the words' times, never from the voice itself):

- ``speaking_rate_wpm``: words per minute of speaking time: the span from the first word's
  start to the last word's end, less the pauses;
- ``pause_ratio``: the share of that span spent in pauses, gaps between words of at least
  ``PAUSE_S`` (ordinary sentence breaks are shorter); ``long_pauses``: gaps of ``LONG_PAUSE_S``
  or more;
- ``filler_rate``: filler words ("um", "uh", "er", "hmm") per word. Whisper drops fillers
  unless its prompt holds some, so the transcription prompt (``FILLER_PROMPT``) does.

Answers: with ``questions.txt``, each question is looked for in the transcript (an interviewer
reading it out): the first segment after the previous question whose embedding is close to it
(cosine >= ``QUESTION_FOUND_COSINE``). The answer is the speech between it and the next
question. Where the questions are not heard (a recording of the candidate only), the
transcript is cut at its ``n - 1`` longest pauses into ``n`` answers, in order. An answer's
relevance is the mean of its meaning score (``matching.meaning_score``) against its question
and its best one against the job's requirements; without questions, the whole transcript's
against the requirements. Sentiment is VADER's compound score of each answer, averaged.

Recording quality uses sampled video frames only, to say whether the recording is usable:
the camera is on (frames not black), a face is visible (OpenCV's Haar frontal-face cascade in
at least ``FACE_SHARE`` of the frames), the picture is not frozen. It never enters any score:
faces, voices, accents and appearance are not scored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np

# Whisper drops disfluencies unless its prompt shows some (openai/whisper discussion #1174).
FILLER_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking. Uh, so."
FILLERS = frozenset({"um", "umm", "uh", "uhm", "uhh", "er", "erm", "ah", "hmm", "hm", "mm"})
PAUSE_S = 0.6  # a gap between words this long is a pause, not a sentence break (~0.3-0.5 s)
LONG_PAUSE_S = 2.0
QUESTION_FOUND_COSINE = 0.6
# Video frames: mean grey level below this is a closed or covered camera (0-255 scale).
DARK_LEVEL = 16.0
# Mean absolute difference (0-255) between consecutive sampled frames below this: frozen.
FROZEN_DIFFERENCE = 0.5
FACE_SHARE = 0.5  # a face in at least half the frames
QUALITY_FRAMES = 12  # frames sampled per recording
FACE_SIDE = 320  # frames are downscaled to this longer side for the face detector


@dataclass(frozen=True)
class Delivery:
    """Timing metrics of a transcript (see the module docstring)."""

    words: int
    speaking_rate_wpm: float | None
    pause_ratio: float | None
    long_pauses: int
    filler_rate: float | None


def _bare(word: str) -> str:
    return re.sub(r"[^\w'-]", "", word.lower())


def delivery(words: Sequence) -> Delivery:
    """Rate, pauses and fillers of ``words`` (objects with ``start``, ``end``, ``text``)."""
    if not words:
        return Delivery(0, None, None, 0, None)
    gaps = [max(0.0, b.start - a.end) for a, b in pairwise(words)]
    span = max(words[-1].end - words[0].start, 1e-6)
    paused = sum(g for g in gaps if g >= PAUSE_S)
    speaking = max(span - paused, 1e-6)
    fillers = sum(_bare(w.text) in FILLERS for w in words)
    return Delivery(
        words=len(words),
        speaking_rate_wpm=round(float(len(words) / speaking * 60.0), 1),
        pause_ratio=round(float(paused / span), 4),
        long_pauses=int(sum(g >= LONG_PAUSE_S for g in gaps)),
        filler_rate=round(fillers / len(words), 4),
    )


def split_at_pauses(segments: Sequence, n: int) -> list[list[int]]:
    """Segment indices cut into ``n`` consecutive groups at the ``n - 1`` longest pauses."""
    if n <= 1 or len(segments) <= 1:
        return [list(range(len(segments)))]
    gaps = [b.start - a.end for a, b in pairwise(segments)]
    cuts = sorted(np.argsort(gaps, kind="stable")[::-1][: n - 1] + 1)
    bounds = [0, *cuts, len(segments)]
    return [list(range(a, b)) for a, b in pairwise(bounds)]


def align_answers(
    segment_vectors: np.ndarray, question_vectors: np.ndarray, segments: Sequence
) -> list[list[int]]:
    """For each question, the indices of the segments that answer it (see the docstring)."""
    n = len(question_vectors)
    if n == 0 or len(segments) == 0:
        return [list(range(len(segments)))] if n == 0 else [[] for _ in range(n)]
    similarity = segment_vectors @ question_vectors.T  # [segments, questions]
    found, start = [], 0
    for q in range(n):
        column = similarity[start:, q]
        if not len(column) or column.max() < QUESTION_FOUND_COSINE:
            found = []
            break
        position = start + int(np.argmax(column))
        found.append(position)
        start = position + 1
    if not found:
        groups = split_at_pauses(segments, n)
        return groups + [[] for _ in range(n - len(groups))]
    bounds = [*found, len(segments)]
    return [list(range(bounds[q] + 1, bounds[q + 1])) for q in range(n)]


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(texts: Sequence[str]) -> float | None:
    """Mean VADER compound score of the non-empty texts, in [-1, 1]."""
    scores = [_vader().polarity_scores(t)["compound"] for t in texts if t.strip()]
    return round(float(np.mean(scores)), 4) if scores else None


@dataclass
class RecordingQuality:
    """What the frames of a recording say about its usability (never about the person)."""

    frames: int = 0
    camera_on: float | None = None  # share of frames that are not dark
    face_visible: float | None = None  # share of frames with a detected face
    frozen: bool = False
    issues: list[str] = field(default_factory=list)

    def label(self) -> str:
        """ "audio only", "good", or the issues joined by "; "."""
        if self.frames == 0:
            return "audio only"
        return "; ".join(self.issues) if self.issues else "good"

    def to_json(self) -> str:
        return json.dumps(
            {"frames": self.frames, "camera_on": self.camera_on, "face_visible": self.face_visible,
             "frozen": self.frozen},
        )  # fmt: skip


@lru_cache(maxsize=1)
def _face_cascade():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV's face cascade is missing ({path})")
    return cascade


def recording_quality(frames: Sequence[np.ndarray]) -> RecordingQuality:
    """Quality of a video from RGB uint8 [h, w, 3] frames sampled across it."""
    import cv2

    if not frames:
        return RecordingQuality()
    greys = []
    for image in frames:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        scale = FACE_SIDE / max(grey.shape)
        if scale < 1:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        greys.append(grey)
    lit = [float(g.mean()) >= DARK_LEVEL for g in greys]
    faces = [
        len(_face_cascade().detectMultiScale(g, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24)))
        > 0
        for g in greys
    ]
    differences = [
        float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
        for a, b in pairwise(greys)
        if a.shape == b.shape
    ]
    quality = RecordingQuality(
        frames=len(frames),
        camera_on=round(sum(lit) / len(lit), 3),
        face_visible=round(sum(faces) / len(faces), 3),
        frozen=bool(differences) and max(differences) < FROZEN_DIFFERENCE,
    )
    if quality.camera_on < 0.5:
        quality.issues.append("camera off")
    elif quality.face_visible < FACE_SHARE:
        quality.issues.append("no face visible")
    if quality.frozen:
        quality.issues.append("picture frozen")
    return quality
