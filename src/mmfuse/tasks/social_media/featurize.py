"""Items into the fusion model's modality tokens: one recipe for training, evaluation and inference.

A fitted featurizer is saved beside the fusion weights (``featurizer.json``, plus the stacked
linear models of ``mmfuse.tasks.social_media.stack``), so whatever reads a checkpoint turns items
into
exactly the tokens the model was trained on. Two steps, as in the engine's ``Task`` interface:

- ``decode(item) -> Decoded``: file IO only (``mmfuse.fusion.media.decode_media``: text files
  and documents, images, audio; videos probed); a bad file raises ``InputError``.
- ``featurize(decoded) -> dict[str, ModalityTokens]``: the encoders, batched over items (the
  media through ``encode_media``, which a task may call first to keep transcripts and
  visual concepts for its rows).

``run``, ``train``, ``evaluate`` and ``--examples`` all go through these two calls, so a model
trained on posts with images, audio and video reads them the same way at inference.

Modalities (name: tokens per item x size), each present when configured or fitted:

- ``text``: 1 x 384, the MiniLM sentence embedding of the normalised text
  (``mmfuse.nlp.social.normalize``: emojis and hashtags glossed in words, @user, http),
  times sqrt(384) (see ``unit_variance``).
- ``lexical``: 1 x K, ``mmfuse.tasks.social_media.features.lexical_features`` of the raw text (VADER
  scores, emoji sentiment, social signals).
- ``bow`` and ``embedding``: 1 x (outputs of all tasks), the predictions of per-task linear
  models on TF-IDF n-grams and on the sentence embedding with the lexical features
  (``mmfuse.tasks.social_media.stack``), present once fitted on labelled texts.
- ``speech``, ``image``, ``video`` (when ``speech_model`` / ``image_model`` are set): one
  384-d token per transcript segment (its sentence embedding, at its start time), per image
  and per sampled video frame (the image encoder's ConSE projection into the text space, at
  the frame's time), so zero- and few-shot class vectors from text apply to them as well.
  Scaled as ``text`` unless ``unit_variance_media`` is off (see ``FeaturizerConfig``).

Encoder outputs are cached by content (``mmfuse.cache.Cache`` under ``cache_dir()/features``)
with the encoder's settings in the key, so re-running training or evaluation encodes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mmfuse import config, registry
from mmfuse.cache import Cache, make_key
from mmfuse.errors import InputError, ModelUnavailable
from mmfuse.fusion.media import Decoded, EncodedMedia, MediaEncoders, decode_media
from mmfuse.tasks.social_media.stack import STACKS_FILE, TextStacks
from mmfuse.types import Item, ModalityTokens

log = logging.getLogger(__name__)

FEATURIZER_FILE = "featurizer.json"
TEXT, LEXICAL = "text", "lexical"
# Media modalities: transcript segments, images and video frames, all in the text space.
SPEECH, IMAGE, VIDEO = "speech", "image", "video"
# Each media modality's token vectors and times in ``EncodedMedia`` (None: chunk index).
MEDIA_TOKENS = {
    SPEECH: ("speech", "speech_times"),
    IMAGE: ("images", None),
    VIDEO: ("frames", "frame_times"),
}
# Texts encoded per call of the text encoder (it buckets them by length inside).
ENCODE_CHUNK = 2048


@dataclass(frozen=True)
class FeaturizerConfig:
    """Which modalities are made, and by which encoders.

    Attributes:
        text_model: ``backend:name`` of the sentence encoder (the shared embedding space).
        text: add the ``text`` token (the sentence embedding itself).
        lexical: add the ``lexical`` token.
        text_precision: the text encoder's precision (``mmfuse.encoders.text.PRECISIONS``).
            float32 by default: bfloat16 is about twice as fast, but its embedding of a text
            moves by up to 2e-3 with the other texts of its batch (float32: 2e-7), and a
            checkpoint's scores must not depend on how posts were batched.
        image_model: ``backend:name`` of the image encoder; "" to ignore images and video
            frames.
        speech_model: ``backend:name`` of the speech encoder; "" to ignore audio and
            soundtracks.
        every_s: seconds between sampled video frames.
        unit_variance_media: scale media tokens as ``text`` (``unit_variance``), so a model
            trained on them learns from them as fast as from the text; False keeps them unit
            vectors (mmfuse-base, which reads them through its text projection and was trained
            on text alone: the caption then leads the fused reading).
        normalize: rewrite social-media text before encoding (``mmfuse.nlp.social``).
    """

    text_model: str = field(default_factory=lambda: registry.default_model("text"))
    text_precision: str = "float32"
    text: bool = True
    lexical: bool = False
    image_model: str = ""
    speech_model: str = ""
    every_s: float = 2.0
    unit_variance_media: bool = True
    normalize: bool = True

    @property
    def kinds(self) -> tuple[str, ...]:
        """The media kinds ``decode`` reads."""
        kinds = ["text", "document"]
        if self.image_model:
            kinds.append("image")
        if self.speech_model:
            kinds.append("audio")
        if self.image_model:
            kinds.append("video")  # frames; the soundtrack too with a speech model
        return tuple(kinds)

    @property
    def media_modalities(self) -> tuple[str, ...]:
        """The media modalities ``featurize`` emits."""
        speech = (SPEECH,) if self.speech_model else ()
        return (*speech, *((IMAGE, VIDEO) if self.image_model else ()))


def unit_variance(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors [N, D] times sqrt(D): components of unit variance.

    The fusion model's residual branches add LayerNorm-scaled (unit-variance) updates to its
    token stream; at unit norm, the embeddings' components (~1/sqrt(D)) would be swamped by the
    first few gradient steps and the pass-through information lost. The direction, all that
    zero- and few-shot cosine heads read, is unchanged.
    """
    return (vectors * np.sqrt(vectors.shape[-1])).astype(np.float32)


def _single(vectors: np.ndarray) -> ModalityTokens:
    """One token per item from [N, D] vectors (every token present, chunk index 0)."""
    n = len(vectors)
    return ModalityTokens(
        vectors[:, None, :].astype(np.float32),
        np.ones((n, 1), dtype=bool),
        np.zeros((n, 1), dtype=np.float32),
    )


class Featurizer:
    """Turns decoded items (or plain texts) into ``dict[str, ModalityTokens]``.

    Args:
        config: which modalities and encoders.
        stacks: fitted stacked linear models (``bow`` and ``embedding`` tokens), or None.
        text_encoder: anything with ``model_id``, ``dim``, ``settings()`` and
            ``encode(texts) -> float32 [N, dim]``; created from ``config.text_model`` on first
            use when None (tests pass a tiny one).
        cache: where encoder outputs are cached; None for the default folder, False for none.
        device: encoder device (None: automatic).
    """

    def __init__(
        self,
        config: FeaturizerConfig | None = None,
        stacks: TextStacks | None = None,
        text_encoder=None,
        cache: Cache | bool | None = None,
        device: str | None = None,
    ):
        self.config = config or FeaturizerConfig()
        self.stacks = stacks
        self._text_encoder = text_encoder
        self._media: MediaEncoders | None = None
        self._cache = cache
        self._tuned_digest: str | None = None
        self.device = device

    # -- encoders and cache ---------------------------------------------------------------

    @property
    def text_encoder(self):
        """The sentence encoder, created on first use."""
        if self._text_encoder is None:
            from mmfuse.encoders.text import TextEncoder

            self._text_encoder = TextEncoder(
                registry.resolve(self.config.text_model),
                registry.select_device(self.device),
                precision=self.config.text_precision,
            )
        return self._text_encoder

    @property
    def media(self) -> MediaEncoders:
        """The speech and image encoders (with the sentence encoder), created on first use."""
        if self._media is None:
            self._media = MediaEncoders(
                self.text_encoder,
                self.config.speech_model,
                self.config.image_model,
                self.config.every_s,
                self.device,
            )
        return self._media

    @property
    def cache(self) -> Cache | None:
        """The feature cache (None when disabled)."""
        if self._cache is None:
            self._cache = Cache(config.cache_dir() / "features")
        return None if self._cache is False else self._cache

    def _cached(
        self,
        name: str,
        settings: dict,
        contents: Sequence[str],
        compute: Callable[[list[int]], np.ndarray],
    ) -> np.ndarray:
        """Rows [N, D] for ``contents``: from the cache, computing only the missing ones.

        Args:
            name: what is computed (part of the key).
            settings: everything besides the content that decides the output.
            contents: one string per row (a text, or a file's SHA-256).
            compute: indices of missing rows -> their float32 [n, D] values.
        """
        cache = self.cache
        if cache is None:  # no keys to make (each hashes the settings: 0.01 ms a text)
            found = [None] * len(contents)
        else:
            keys = [make_key(name, settings, c) for c in contents]
            found = [cache.get(k) for k in keys]
        missing = [i for i, row in enumerate(found) if row is None]
        values: dict[int, np.ndarray] = {i: row["v"] for i, row in enumerate(found) if row}
        for start in range(0, len(missing), ENCODE_CHUNK):
            chunk = missing[start : start + ENCODE_CHUNK]
            for i, vector in zip(chunk, compute(chunk), strict=True):
                values[i] = np.asarray(vector, dtype=np.float32)
                if cache is not None:
                    cache.put(keys[i], {"v": values[i]})
        if missing:
            log.debug("%s: computed %d of %d (rest cached)", name, len(missing), len(contents))
        return np.stack([values[i] for i in range(len(contents))]).astype(np.float32)

    # -- the public recipe ----------------------------------------------------------------

    @property
    def modalities(self) -> dict[str, int]:
        """Modality name -> token size, in the order ``featurize`` emits them."""
        dims = {TEXT: self.text_dim} if self.config.text else {}
        if self.config.lexical:
            dims[LEXICAL] = self.lexical_dim
        if self.stacks is not None:
            dims.update(self.stacks.dims)
        dims.update({name: self.text_dim for name in self.config.media_modalities})
        return dims

    @property
    def lexical_dim(self) -> int:
        """Number of lexical features."""
        from mmfuse.tasks.social_media.features import LEXICAL_FEATURE_NAMES

        return len(LEXICAL_FEATURE_NAMES)

    @property
    def text_dim(self) -> int:
        """Size of the text embeddings (384 for all-MiniLM-L6-v2)."""
        return self.text_encoder.dim

    def prepare(self, text: str) -> str:
        """What the sentence encoder and the bag of words read for a raw text."""
        if not self.config.normalize:
            return text.strip()
        from mmfuse.nlp.social import normalize

        return normalize(text)

    def decode(self, item: Item) -> Decoded:
        """Reads an item's text (inline, text files and documents) and, where the featurizer
        has the encoders for them, its images, audio and videos.

        Raises:
            InputError: a file that cannot be read, or an item with nothing this featurizer
                reads.
        """
        return decode_media(item, self.config.kinds)

    def decode_readable(self, items: Sequence[Item]) -> tuple[list[int], list[Decoded]]:
        """The positions of the items that decode, and their ``Decoded``; each one that
        does not is logged as a warning and left out."""
        kept, decoded = [], []
        for position, item in enumerate(items):
            try:
                decoded.append(self.decode(item))
            except InputError as error:
                log.warning("skipping %s: %s", item.id, error)
                continue
            kept.append(position)
        return kept, decoded

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [N, dim] sentence embeddings of prepared texts (cached)."""
        encoder = self.text_encoder
        return self._cached(
            "text", encoder.settings(), texts, lambda rows: encoder.encode([texts[i] for i in rows])
        )

    def embed_and_read(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sentence embeddings [N, dim] of prepared texts and, from the same forward passes,
        the fine-tuned top layers' token [N, width] (cached together)."""
        encoder = self.text_encoder
        tuned = self.stacks.attach(encoder)
        readout = tuned.readout()
        if self._tuned_digest is None:  # hashing 14 MB of weights once, not per batch
            self._tuned_digest = tuned.digest()
        settings = {**encoder.settings(), "tuned": self._tuned_digest}

        def compute(rows: list[int]) -> np.ndarray:
            return np.concatenate(encoder.encode_read([texts[i] for i in rows], readout), axis=1)

        both = self._cached("text+tuned", settings, texts, compute)
        return both[:, : encoder.dim], both[:, encoder.dim :]

    def lexical(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [N, K] lexical features of raw texts (cached)."""
        from mmfuse.tasks.social_media.features import LEXICAL_FEATURE_NAMES, lexical_features

        return self._cached(
            "lexical",
            {"names": list(LEXICAL_FEATURE_NAMES)},
            texts,
            lambda rows: lexical_features([texts[i] for i in rows]),
        )

    def dense(self, texts: Sequence[str], prepared: Sequence[str] | None = None) -> np.ndarray:
        """float32 [N, dim + K]: sentence embeddings and lexical features of raw texts, the
        features of the ``embedding`` stack (``prepared``: the texts through ``prepare``)."""
        prepared = [self.prepare(t) for t in texts] if prepared is None else prepared
        return np.concatenate([self.embed_texts(prepared), self.lexical(texts)], axis=1)

    def predict_stacks(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The fitted stacks' tokens of unseen raw texts: token name -> float32 [N, dim]."""
        return self._text_inputs(texts, need_text=False, need_lexical=False)[2]

    def _text_inputs(
        self, texts: Sequence[str], need_text: bool, need_lexical: bool
    ) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, np.ndarray]]:
        """Sentence embeddings and lexical features of raw texts (when asked for or the stacks
        need them) and the stacks' tokens ({} without stacks); each computed once, even
        without a cache."""
        prepared = [self.prepare(t) for t in texts]
        if self.stacks is None:
            embeddings = self.embed_texts(prepared) if need_text else None
            return embeddings, (self.lexical(texts) if need_lexical else None), {}
        tuned = None
        if self.stacks.tuned_classes:
            embeddings, tuned = self.embed_and_read(prepared)
        else:
            embeddings = self.embed_texts(prepared)
        lexical = self.lexical(texts)
        dense = np.concatenate([embeddings, lexical], axis=1)
        return embeddings, lexical, self.stacks.predict(prepared, dense, tuned)

    def featurize_texts(
        self, texts: Sequence[str], stacked: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, ModalityTokens]:
        """Tokens of raw texts (one item each).

        Args:
            texts: N raw texts (non-empty).
            stacked: token name -> float32 [N, dim] replacing the stacks' predictions: the
                out-of-fold tokens of ``fit_stacks`` while training.
        """
        if stacked is None:
            embeddings, lexical, stacked = self._text_inputs(
                texts, self.config.text, self.config.lexical
            )
        else:
            embeddings = None
            if self.config.text:
                embeddings = self.embed_texts([self.prepare(t) for t in texts])
            lexical = self.lexical(texts) if self.config.lexical else None
        inputs = {}
        if self.config.text:
            inputs[TEXT] = _single(unit_variance(embeddings))
        if self.config.lexical:
            inputs[LEXICAL] = _single(lexical)
        if self.stacks is not None:
            inputs.update({name: _single(stacked[name]) for name in self.stacks.dims})
        return inputs

    def encode_media(self, decoded: Sequence[Decoded]) -> list[EncodedMedia]:
        """What the speech and image encoders make of each item's audio, images and videos."""
        if not any(d.has_media for d in decoded):
            return [EncodedMedia() for _ in decoded]
        return self.media.encode(decoded)

    def featurize(
        self,
        decoded: Sequence[Decoded],
        stacked: Mapping[str, np.ndarray] | None = None,
        media: Sequence[EncodedMedia] | None = None,
    ) -> dict[str, ModalityTokens]:
        """Tokens of decoded items; a modality an item lacks is masked for it.

        Args:
            decoded: N items from ``decode``.
            stacked: token name -> float32 [N, dim] replacing the stacks' predictions
                (training).
            media: the items' ``encode_media`` output, when the caller has it already.
        """
        has_text = np.array([bool(d.text.strip()) for d in decoded], dtype=bool)
        texts = [d.text for d in decoded if d.text.strip()]
        inputs: dict[str, ModalityTokens] = {}
        if texts:
            rows = None if stacked is None else {k: v[has_text] for k, v in stacked.items()}
            for name, tokens in self.featurize_texts(texts, rows).items():
                full = ModalityTokens.stack(
                    [None] * len(decoded), [None] * len(decoded), tokens.tokens.shape[-1]
                )
                full.tokens[has_text] = tokens.tokens
                full.mask[has_text] = True
                inputs[name] = full
        if self.config.media_modalities:
            media = self.encode_media(decoded) if media is None else media
            for name in self.config.media_modalities:
                vectors, times = MEDIA_TOKENS[name]
                sequences = [getattr(m, vectors) for m in media]
                stamps = [getattr(m, times) if times else None for m in media]
                if self.config.unit_variance_media:
                    sequences = [None if v is None else unit_variance(v) for v in sequences]
                inputs[name] = ModalityTokens.stack(sequences, stamps, self.text_dim)
        return inputs

    def fit_stacks(
        self,
        texts: Sequence[str],
        targets: Mapping[str, np.ndarray],
        classes: Mapping[str, list[str]],
        tune=None,
        out_of_fold: bool = True,
    ) -> dict[str, np.ndarray]:
        """Fits the stacked linear models on raw training texts; returns their tokens.

        Args:
            texts: N raw texts.
            targets: task -> class indices (-1 where unlabelled) or values (NaN where
                unlabelled).
            classes: task -> class names (``[]`` for a regression task).
            tune: ``mmfuse.tasks.social_media.tune.TuneOptions`` to fine-tune the text encoder's top
                layers as a third stack (``tuned``); None for the linear stacks only.
            out_of_fold: False skips the fine-tuned layers' out-of-fold runs (their token
                is then the full model's, for callers that do not train on it).

        Returns:
            Token name -> float32 [N, dim], out of fold (pass to ``featurize``).
        """
        self.stacks = TextStacks(tune=tune)
        self._tuned_digest = None
        prepared = [self.prepare(t) for t in texts]
        encoder = self.text_encoder if tune is not None else None
        dense = self.dense(texts, prepared)
        return self.stacks.fit(prepared, dense, targets, classes, encoder, out_of_fold)

    # -- checkpoint files -----------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        """Writes ``featurizer.json`` (and the stacks' files) into a checkpoint folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        document = {"config": asdict(self.config), "stacks": self.stacks is not None}
        (folder / FEATURIZER_FILE).write_text(json.dumps(document, indent=2) + "\n")
        if self.stacks is not None:
            self.stacks.save(folder)

    @classmethod
    def load(cls, folder: str | Path, **kwargs) -> Featurizer:
        """The featurizer saved in a checkpoint folder; the default one when it has none.

        Args:
            folder: a checkpoint folder.
            **kwargs: ``text_encoder``, ``cache``, ``device`` as in the constructor.
        """
        folder = Path(folder)
        path = folder / FEATURIZER_FILE
        if not path.is_file():
            return cls(**kwargs)
        try:
            document = json.loads(path.read_text())
            settings = FeaturizerConfig(**document["config"])
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise ModelUnavailable(f"bad featurizer file {path}: {error}") from error
        stacks = None
        if document.get("stacks"):
            if not (folder / STACKS_FILE).is_file():
                raise ModelUnavailable(f"{folder}: the stacked models' files are missing")
            stacks = TextStacks.load(folder)
        return cls(settings, stacks, **kwargs)
