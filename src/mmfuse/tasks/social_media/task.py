"""Social-media analysis: sentiment that survives sarcasm, emotion, topics, cross-modal mismatch.

One row per post (a caption file with its images, audio and clips, or a row of a CSV/JSONL
export). The fusion model (``mmfuse-base`` by default, or one from ``mmfuse train``) reads the
caption's tokens (sentence embedding, lexical/VADER features, bag-of-words), the transcript
segments of any speech, and the images and sampled video frames as text-space vectors. The
last three are read through the text projection (``FusionConfig.aliases``): a transcript is
text, and an image's ConSE vector is a mixture of class descriptions, so a model trained on
labelled posts reads them without new weights, while its attention shares still tell the
sources apart (``<task>_from_text/audio/image/video``).

Incongruity: the same model scores each source alone (the caption, the transcript, the images,
the video frames) on the sentiment scale [-1, 1]; a post's incongruity is how strongly the
caption and another source point in opposite directions, ``max(0, -caption * other)`` for the
most opposed source, in [0, 1]: 0 when they agree or either is neutral. Sarcasm often lives
there: "Loving my new headphones!!!" over a voice saying they broke.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmfuse import __version__, registry
from mmfuse.encoders.conse import normalise
from mmfuse.errors import UsageError
from mmfuse.fusion.media import Decoded, EncodedMedia, decode_media
from mmfuse.fusion.model import CONFIG_FILE, checkpoint_folder, read_config
from mmfuse.tasks.base import Task
from mmfuse.tasks.cells import meta_columns, passed_through, rounded, visual_concepts
from mmfuse.tasks.media import MediaOptions
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.tasks.social_media.examples import examples_task
from mmfuse.tasks.social_media.featurize import TEXT
from mmfuse.tasks.social_media.scoring import (
    OUTPUT_NAMES,
    SOURCES,
    VALENCE,
    add_media_aliases,
    score_posts,
)
from mmfuse.tasks.social_media.summary import write_outputs
from mmfuse.types import Item

DEFAULT_MODEL = "mmfuse-base"
# Topics scored when the user gives none: what brand and market-research posts are about.
DEFAULT_TOPICS = (
    "customer service",
    "product quality",
    "price and deals",
    "shipping and delivery",
    "travel",
    "food and drink",
    "sports",
    "politics",
    "entertainment and music",
    "technology",
    "health and fitness",
    "fashion and beauty",
    "family and friends",
    "work and career",
    "weather",
    "nature and animals",
)
# Each topic is embedded as the mean of these phrasings.
TOPIC_TEMPLATES = ("{}", "a social media post about {}")
# A topic is listed when the post's cosine similarity to it reaches TOPIC_MIN_SIMILARITY (MiniLM
# puts unrelated sentences around 0.0-0.15) and lies within TOPIC_MARGIN of the best topic's.
TOPIC_MIN_SIMILARITY = 0.2
TOPIC_MARGIN = 0.05
MAX_TOPICS = 3
# Posts per model batch by default: the text encoder groups a batch's captions by length, so
# more posts per batch waste less on padding (64: ~110 posts/s, 128: ~155, 256: ~165).
TEXT_BATCH = 128
# A post's text is read up to this many characters (a long post or thread is a few thousand;
# a 5 MB single-line file would take minutes and gigabytes to embed); the row says so.
MAX_POST_CHARS = 20_000
# Tasks with columns of their own; any other task of the model gets <task> and <task>_prob.
CORE_TASKS = ("sentiment", "emotion", "irony")


@dataclass(frozen=True)
class SocialOptions(MediaOptions):
    """What the social-media analysis computes (everything here keys the cache)."""

    model: str = option(
        DEFAULT_MODEL, "fusion model: a folder from `mmfuse train` or a shipped name"
    )
    topics: tuple[str, ...] = option(
        DEFAULT_TOPICS, "comma-separated topics scored zero-shot (default: a list of 16)"
    )
    examples: Path | None = option(
        None, "few-shot examples, DIR/<class>/<files>: class vectors without training"
    )
    text_precision: str = option(
        "auto",
        "sentence encoder precision: auto is bfloat16 where the hardware multiplies it "
        "natively (CPUs with AVX512-BF16 or AMX, CUDA), about 1.5x faster, else float32; "
        "a post's scores never depend on its batch either way",
        choices=("auto", "float32", "bfloat16"),
    )

    def __post_init__(self):
        super().__post_init__()
        if self.examples is not None and not self.examples.is_dir():
            raise UsageError(f"examples folder not found: {self.examples}")
        if not self.topics:
            object.__setattr__(self, "topics", DEFAULT_TOPICS)


@dataclass
class SocialPost:
    """A post read from disk, with its caption's language (found in the decode threads)."""

    media: Decoded
    language: str
    language_probability: float
    notes: list[str] = field(default_factory=list)


def _digest(folder: Path) -> str:
    """SHA-256 over the relative names and bytes of a folder's files (hidden ones excepted):
    the checkpoint, or the examples folder, wherever it lies."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in files:
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@register_task("social-media")
class SocialMediaTask(Task):
    """The social-media pipeline as an engine task (see the module docstring).

    Manifest columns besides id and text (author, brand, timestamp) pass through.
    """

    Options = SocialOptions
    default_batch_size = TEXT_BATCH
    device_item_bytes = 16 * 2**20  # a post's tokens; its photo or frames when it has them
    max_device_batch = 2048

    def __init__(self, options=None, items: Sequence[Item] = (), device: str | None = None):
        super().__init__(options, items, device)
        self.folder = checkpoint_folder(self.options.model)
        tasks = read_config(self.folder / CONFIG_FILE).tasks
        self.kinds = {t.name: t.kind for t in tasks}  # task -> multiclass / regression
        if self.options.examples is not None:
            try:
                name, new = examples_task(tasks, self.options.examples)
            except ValueError as error:  # an examples folder that cannot be used
                raise UsageError(str(error)) from None
            if new:
                self.kinds[name] = "multiclass"
        self.meta_columns = meta_columns(items)
        self.checkpoint = None

    # -- what the run records and writes ----------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        valence = (VALENCE,) if self.kinds.get(VALENCE) == "regression" else ()
        extra = [t for t in self.kinds if t not in (*CORE_TASKS, *valence)]
        explained = [OUTPUT_NAMES.get(t, t) for t in CORE_TASKS if t in self.kinds]
        return (
            "id",
            "text",
            "transcript",
            "language",
            "language_supported",
            "sentiment",
            "sentiment_prob",
            "sentiment_score",
            *valence,
            "sarcasm_prob",
            "emotion",
            "emotion_prob",
            "topics",
            "visual_concepts",
            "incongruity",
            "incongruity_source",
            *[
                c
                for t in extra
                for c in ((t,) if self.kinds[t] == "regression" else (t, f"{t}_prob"))
            ],
            *[f"{name}_from_{source}" for name in explained for source in SOURCES],
            *self.meta_columns,
            "notes",
            "error",
        )

    def settings(self) -> dict:
        from mmfuse.encoders.text import resolve_precision

        examples = self.options.examples
        return {
            "version": __version__,
            "model": str(self.options.model),
            "model_sha256": _digest(self.folder),
            "topics": list(self.options.topics),
            "examples_sha256": _digest(examples) if examples else None,
            "speech_model": self.speech_model,
            "image_model": self.image_model,
            "every_s": self.options.every_s,
            "text_precision": resolve_precision(
                self.options.text_precision, registry.select_device(self.device)
            ),
        }

    @property
    def speech_model(self) -> str:
        return self.options.speech_model or registry.default_model("speech")

    @property
    def image_model(self) -> str:
        return self.options.image_model or registry.default_model("image")

    # -- the stages -------------------------------------------------------------------------

    def setup(self) -> None:
        if self.checkpoint is not None:  # set up already (engines call this once per worker)
            return
        from mmfuse.tasks.social_media.examples import adapt_to_examples
        from mmfuse.tasks.social_media.fit import Checkpoint

        # no feature cache: the results cache already keeps every analysed post
        checkpoint = Checkpoint.load(self.folder, cache=False, device=self.device)
        if TEXT not in checkpoint.model.modalities:  # a screening or wildlife head, say
            raise UsageError(f"--model {self.folder} reads no text: not a social-media model")
        add_media_aliases(checkpoint.model, TEXT)
        featurizer = checkpoint.featurizer
        # before any encoder is created: the posts' media, read by the task's encoders
        featurizer.config = replace(
            featurizer.config,
            text_precision=self.options.text_precision,
            speech_model=self.speech_model,
            image_model=self.image_model,
            every_s=self.options.every_s,
        )
        if self.options.examples:
            adapt_to_examples(checkpoint, self.options.examples)
        topics = [t.format(topic) for topic in self.options.topics for t in TOPIC_TEMPLATES]
        vectors = featurizer.embed_texts(topics).reshape(len(self.options.topics), 2, -1)
        self.topic_vectors = normalise(vectors.mean(axis=1))
        self.checkpoint = checkpoint

    def decode(self, item: Item) -> SocialPost:
        from mmfuse.nlp.language import UNDETERMINED, detect_language

        media, notes = decode_media(item), []
        if len(media.text) > MAX_POST_CHARS:
            notes.append(
                f"text cut to its first {MAX_POST_CHARS:,} of {len(media.text):,} characters"
            )
            media.text = media.text[:MAX_POST_CHARS]
        language = detect_language(media.text) if media.text else (UNDETERMINED, 0.0)
        return SocialPost(media, *language, notes)

    def process(self, batch: Sequence[tuple[Item, SocialPost]]) -> list[dict]:
        if self.checkpoint is None:
            self.setup()
        decoded = [post.media for _, post in batch]
        media = self.checkpoint.featurizer.encode_media(decoded)
        posts = score_posts(self.checkpoint, decoded, media)
        return [
            self._row(item, p, m, scores)
            for (item, p), m, scores in zip(batch, media, posts, strict=True)
        ]

    def _row(self, item: Item, post: SocialPost, media: EncodedMedia, scores) -> dict:
        from mmfuse.nlp.language import UNDETERMINED, is_supported

        language, probability = post.language, post.language_probability
        if language == UNDETERMINED and media.language:  # Whisper's reading of the speech
            language, probability = media.language, 1.0
        supported = is_supported(language, probability)
        notes = [*post.notes, *media.notes]
        if not supported:
            notes.append(f"language '{language}': the text models are English-only")
        return {
            "text": post.media.text,
            "transcript": media.transcript,
            "language": language,
            "language_supported": supported,
            "topics": "; ".join(self._topics(scores.vector)) if scores.vector is not None else "",
            "visual_concepts": visual_concepts(media),
            "incongruity": rounded(scores.incongruity),
            "incongruity_source": scores.incongruity_source,
            **{column: rounded(value) for column, value in scores.columns.items()},
            **passed_through(item, self.meta_columns),
            "notes": "; ".join(notes),
        }

    def _topics(self, vector: np.ndarray) -> list[str]:
        similarity = self.topic_vectors @ vector
        floor = max(TOPIC_MIN_SIMILARITY, float(similarity.max()) - TOPIC_MARGIN)
        order = np.argsort(-similarity, kind="stable")[:MAX_TOPICS]
        return [self.options.topics[i] for i in order if similarity[i] >= floor]

    def finish(self, rows: Sequence[dict], out_dir: Path) -> list[Path]:
        return write_outputs(rows, out_dir)

    @classmethod
    def report_sections(cls, rows, out_dir, files):
        from mmfuse.tasks.social_media.report import report_sections

        return report_sections(rows, out_dir, files)
