"""A candidate as tokens of the fusion model: the score's parts, CV sections, requirements,
interview segments.

Every screened candidate's row carries four arrays (float32), which the run writes to
``results.parquet`` only (never to the CSV); ``mmfuse train`` reads them back from a finished
run, and a trained screening head (``head``) reads them in the run itself:

- ``parts``, one token: the five parts of the fit score (0 when absent), five presence
  flags, then the zero-shot fit score as a probability (``PRIOR_LOW`` to 1 - ``PRIOR_LOW``)
  and its complement (a head's prior);
- ``sections``, one token per CV section found (experience, education, skills, other): the
  mean embedding of the section's sentences; its time is the section's index in
  ``SECTION_KINDS``;
- ``requirements``, one token per requirement of the job: the requirement's embedding, its
  match score, met, must-have;
- ``interview``, one token per transcript segment (none without an interview): the segment's
  embedding and its relevance to the requirements.

All embeddings are of redacted text (unless ``--keep-pii``), so the tokens hold no more
personal data than the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mmfuse.tasks.screening.matching import Match
from mmfuse.tasks.screening.scoring import WEIGHTS
from mmfuse.tasks.screening.sections import SECTION_KINDS, Sections
from mmfuse.types import ModalityTokens

MODALITIES = ("parts", "sections", "requirements", "interview")
PARTS = tuple(WEIGHTS)
PARTS_DIM = 2 * len(PARTS) + 2
# Columns of the parts token holding (p, 1 - p) of the zero-shot fit score: a residual prior.
FIT_PRIOR = [2 * len(PARTS), 2 * len(PARTS) + 2]
# p = PRIOR_LOW + PRIOR_SPAN * fit / 100: monotone in the fit score, so an untrained head ranks
# as it does, but never so sure (at most 9:1) that past decisions cannot overrule it.
PRIOR_LOW, PRIOR_SPAN = 0.1, 0.8
REQUIREMENT_FEATURES = 3  # score, met, must


def parts_token(parts: Mapping[str, float | None], fit_score: float | None) -> np.ndarray:
    """float32 [1, PARTS_DIM]: the parts, their presence and the fit score (module docstring)."""
    values = [parts.get(p) for p in PARTS]
    fit = 0.0 if fit_score is None else float(fit_score) / 100.0
    p = PRIOR_LOW + PRIOR_SPAN * fit
    row = [v or 0.0 for v in values] + [float(v is not None) for v in values] + [p, 1.0 - p]
    return np.asarray([row], np.float32)


def section_tokens(
    sections: Sections, sentences: Sequence[str], vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The CV's section tokens [S, dim] and their section indices [S] (float32).

    A sentence belongs to the first section kind whose text holds it; sentences of no section
    (a CV without headings) are ``other``. Sentences too short to embed (zero rows) are left
    out; a section with none is not a token.
    """
    bodies = [sections.text_of(kind) for kind in SECTION_KINDS]
    groups: dict[int, list[int]] = {}
    for index, sentence in enumerate(sentences):
        if not vectors[index].any():
            continue
        kind = next((k for k, body in enumerate(bodies) if sentence in body), len(bodies) - 1)
        groups.setdefault(kind, []).append(index)
    dim = vectors.shape[1]
    tokens, kinds = np.zeros((len(groups), dim), np.float32), np.zeros(len(groups), np.float32)
    for row, kind in enumerate(sorted(groups)):
        mean = vectors[groups[kind]].mean(axis=0)
        tokens[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        kinds[row] = kind
    return tokens, kinds


def requirement_tokens(matches: Sequence[Match], vectors: np.ndarray) -> np.ndarray:
    """float32 [R, dim + 3]: each requirement's embedding, match score, met and must-have."""
    features = [[m.score, float(m.met), float(m.requirement.must)] for m in matches]
    features = np.asarray(features, np.float32).reshape(len(matches), REQUIREMENT_FEATURES)
    return np.concatenate([vectors.astype(np.float32), features], axis=1)


def interview_tokens(vectors: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """float32 [n_segments, dim + 1]: each transcript segment's embedding and relevance."""
    return np.concatenate([vectors, relevance.reshape(-1, 1)], axis=1).astype(np.float32)


def token_columns(name: str) -> str:
    """The row key (and Parquet column) of one modality's tokens."""
    return f"tokens_{name}"


TOKEN_COLUMNS = tuple(token_columns(m) for m in MODALITIES)
SECTION_TIMES = "tokens_sections_times"


def modality_dims(embedding_dim: int) -> dict[str, int]:
    """Token size of each modality for a sentence encoder of ``embedding_dim``."""
    return {
        "parts": PARTS_DIM,
        "sections": embedding_dim,
        "requirements": embedding_dim + REQUIREMENT_FEATURES,
        "interview": embedding_dim + 1,
    }


def embedding_dim(rows: Sequence[Mapping]) -> int:
    """The sentence encoder's size, read off the candidates' requirement tokens.

    Raises:
        ValueError: no candidate has requirement tokens (the job has no requirements).
    """
    for row in rows:
        array = _matrix(row.get(token_columns("requirements")))
        if array.size:
            return array.shape[1] - REQUIREMENT_FEATURES
    raise ValueError("no candidate has requirement tokens: the job lists no requirements")


def stack(rows: Sequence[Mapping], dims: Mapping[str, int]) -> dict[str, ModalityTokens]:
    """``dict[modality, ModalityTokens]`` of candidates' token arrays, padded to the longest.

    Args:
        rows: rows (or records read back from ``results.parquet``) with the token columns.
        dims: ``modality_dims`` of the encoder the model reads.

    Raises:
        ValueError: a row's tokens have another size than ``dims`` says (another encoder).
    """
    out = {}
    for name, column in zip(MODALITIES, TOKEN_COLUMNS, strict=True):
        arrays = [_matrix(row.get(column)) for row in rows]
        sizes = {a.shape[1] for a in arrays if a.size}
        if sizes - {dims[name]}:
            raise ValueError(
                f"{name} tokens of size {sorted(sizes)}, the model reads {dims[name]}: "
                "screened with another sentence encoder?"
            )
        times = [row.get(SECTION_TIMES) if name == "sections" else None for row in rows]
        sequences = [a if a.size else None for a in arrays]
        out[name] = ModalityTokens.stack(sequences, times, dims[name])
    return out


def _matrix(value) -> np.ndarray:
    """A stored token array as float32 [n, dim] (empty [0, 0] for none)."""
    if value is None:
        return np.zeros((0, 0), np.float32)
    array = np.asarray(value, dtype=np.float32)
    return array if array.ndim == 2 else np.zeros((0, 0), np.float32)
