"""Interview-plus-CV screening: blind CV-job matching, interview metrics and a ranked fit score.

The tool assists a human decision and never decides alone. Personal data is redacted before
any model, cache, log or output sees a CV (``--keep-pii`` turns that off, and the manifest
records it); faces, voices, accents and appearance are never scored: video frames serve only
to say whether the recording is usable.

One row per candidate (a sub-folder holding a CV as PDF, DOCX or TXT, optionally an interview
recording and ``questions.txt``; or a manifest row with ``cv_text`` or a CV path). Of several
documents the one that reads most as a CV is screened, and its language noted
(``documents``); ids that carry personal data are replaced (``identity``). The job
description's requirements (``requirements``) are matched against the CV (``matching``) by
skill names, lemmas and sentence embeddings, each with its evidence sentence; the fit score is
the documented weighted sum of ``scoring``; the interview gives speaking rate, pauses, fillers
and answer relevance (``interview``); ``finish`` ranks the candidates and writes summary.csv.
Each candidate is also a set of fusion tokens (``tokens``: score parts, CV sections,
requirements, interview segments); ``mmfuse train`` fits a head on them from past decisions
(``training``), and ``--model`` adds its learned score (``head``) beside the parts.
"""

from mmfuse.tasks.screening.task import ScreeningOptions, ScreeningTask

__all__ = ["ScreeningOptions", "ScreeningTask"]
