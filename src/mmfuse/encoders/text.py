"""Sentence embeddings from a sentence-transformers folder (default all-MiniLM-L6-v2), fast on CPU.

The folder's own sentence-transformers files decide the pooling (mean, CLS or max over tokens)
and the maximum length; every embedding is L2-normalised so dot products are cosines. Speed
comes from length-bucketed batches (each text padded only to the next multiple of
``PAD_MULTIPLE`` tokens and batched with texts of that length, so a tweet costs ~30 tokens, not
256, and its embedding does not depend on its batch), one tokenizer call for all texts,
``torch.inference_mode`` and, by default where the hardware has native bfloat16 matrix units
(AMX / AVX512-BF16 CPUs, CUDA), bfloat16 weights. On 2,000 TweetEval tweets (one thread, Xeon
with AMX) bfloat16 ran 440 tweets/s against 147 for float32 and 102 for plain
sentence-transformers, at cosine >= 0.9999 to the float32 embeddings and with unchanged downstream
scores (sentiment macro-recall 0.543 vs 0.542, emotion macro-F1 0.635 vs 0.639, logistic
regression, 5-fold). Dynamic int8 quantization is offered but is not faithful (see
``PRECISIONS``).

Threads are torch's (``torch.set_num_threads``): on a machine whose cores are busy with other
processes, two OpenMP threads on two cores wait on each other and ran 6x slower than one.

Texts longer than the model's maximum length are not truncated: they are cut into overlapping
token windows whose embeddings are averaged (and renormalised).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmfuse.encoders.base import Encoder, register_backend
from mmfuse.errors import ModelUnavailable
from mmfuse.registry import ModelRef

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64  # batches of similar-length texts; 32-256 measure within noise on CPU
DEVICE_BATCH_SIZE = 256  # on a GPU: MiniLM on an H200 peaks near 256 texts a pass
DEFAULT_STRIDE = 32  # tokens shared by neighbouring windows of a long text
# Each sequence is padded to a length of its own (the next multiple of this), never to its
# batch's longest: a text's embedding is then the same bit for bit in any batch, in float32
# and in bfloat16 (whose rounding moved embeddings by about 1e-3 with their padding).
PAD_MULTIPLE = 4
# "auto": bfloat16 where the hardware multiplies it natively, else float32.
# "int8": dynamic int8 Linear layers (CPU only), 1.4x faster than float32 but cosine to the
# float32 embeddings only 0.934 on average (min 0.79) on 3,000 TweetEval tweets, emotion
# macro-F1 0.621 vs 0.639: activations are quantized per tensor and BERT's feed-forward
# outputs have outliers. Opt-in, never the default.
PRECISIONS = ("auto", "float32", "bfloat16", "int8")
_TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "int8": torch.float32}
# sentence-transformers Pooling config flags we reproduce -> our pooling name
_POOLING_FLAGS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}
_HUB_ORGANISATION = "sentence-transformers"  # sentence-transformers' prefix for bare hub names


@dataclass(frozen=True)
class SentenceConfig:
    """What a sentence-transformers folder says about turning token states into a sentence.

    Attributes:
        transformer_dir: folder holding the Hugging Face model and tokenizer.
        max_length: most tokens per forward pass, special tokens included.
        pooling: "mean", "cls" or "max" over the non-padding tokens.
        lowercase: lowercase texts before tokenizing (sentence-transformers' do_lower_case).
        dim: size of the sentence embedding.
    """

    transformer_dir: Path
    max_length: int
    pooling: str
    lowercase: bool
    dim: int


@dataclass(frozen=True)
class Readout:
    """A second reading of the encoder's forward pass, from the hidden states after its first
    ``layer`` layers (the fine-tuned layers of ``mmfuse.tasks.social_media.tune``).

    Attributes:
        layer: layers run before the readout (0, the word embeddings' output, .. number of
            layers - 1).
        width: outputs per text.
        read: (states [b, t, dim], attention mask as the encoder's layers take it, bool mask
            [b, t]) -> float32 [b, width].
    """

    layer: int
    width: int
    read: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def read_sentence_config(folder: Path) -> SentenceConfig:
    """Reads modules.json, sentence_bert_config.json and the Pooling config of ``folder``.

    A plain Hugging Face folder (no modules.json) gets mean pooling, which is what
    sentence-transformers itself does with one.

    Raises:
        ModelUnavailable: the folder asks for a pooling this encoder does not reproduce.
    """
    model_config = json.loads((folder / "config.json").read_text())
    hidden = int(model_config["hidden_size"])
    positions = int(model_config.get("max_position_embeddings", 512))
    modules_file = folder / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.is_file() else []
    by_type = {m["type"].rsplit(".", 1)[-1]: folder / m["path"] for m in modules}
    transformer_dir = by_type.get("Transformer", folder)
    st_file = transformer_dir / "sentence_bert_config.json"
    st_config = json.loads(st_file.read_text()) if st_file.is_file() else {}
    pooling, dim = "mean", hidden
    if "Pooling" in by_type:
        flags = json.loads((by_type["Pooling"] / "config.json").read_text())
        chosen = [name for key, name in _POOLING_FLAGS.items() if flags.get(key)]
        others = [k for k, v in flags.items() if k.startswith("pooling_mode") and v]
        if len(chosen) != 1 or len(others) != 1:
            raise ModelUnavailable(
                f"{folder}: pooling {others} is not supported (one of mean, cls, max)"
            )
        pooling, dim = chosen[0], int(flags.get("word_embedding_dimension", hidden))
    return SentenceConfig(
        transformer_dir=transformer_dir,
        max_length=min(int(st_config.get("max_seq_length", positions)), positions),
        pooling=pooling,
        lowercase=bool(st_config.get("do_lower_case", False)),
        dim=dim,
    )


def resolve_precision(precision: str, device: str) -> str:
    """The concrete precision for ``precision`` ("auto" looks at the hardware)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got '{precision}'")
    if precision == "int8" and not device.startswith("cpu"):
        raise ValueError("int8 dynamic quantization runs on the CPU only")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device.startswith("cpu"):
        caps = torch.cpu.get_capabilities()
        if caps.get("amx_bf16") or caps.get("avx512_bf16"):
            return "bfloat16"
    return "float32"


def token_windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """[start, end) windows of at most ``window`` tokens, neighbours sharing ``stride`` tokens.

    The windows cover every token; the last one ends at ``n_tokens``. No tokens, no windows.
    """
    if not 0 <= stride < window:
        raise ValueError(f"stride ({stride}) must be >= 0 and below the window ({window})")
    windows: list[tuple[int, int]] = []
    start = 0
    while start < n_tokens:
        end = min(start + window, n_tokens)
        windows.append((start, end))
        if end == n_tokens:
            break
        start = end - stride
    return windows


def run_layer(layer: torch.nn.Module, states: torch.Tensor, layer_mask: torch.Tensor):
    """One transformer layer's output states [b, t, dim] (transformers 4 wraps them in a
    tuple, 5 returns them alone)."""
    out = layer(states, attention_mask=layer_mask)
    return out[0] if isinstance(out, tuple) else out


def _local_folder(source: str) -> Path:
    """The model folder for ``ref.source``: a local path, or a hub download (online only)."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    repo_id = source if "/" in source else f"{_HUB_ORGANISATION}/{source}"
    return Path(snapshot_download(repo_id))


@register_backend("sentence-transformers")
class TextEncoder(Encoder):
    """A frozen sentence-transformers model: texts in, unit-length float32 vectors out.

    Args:
        ref: the resolved model; ``ref.source`` is a sentence-transformers folder (hash-checked
            by the registry for registered models) or, when online use is allowed, a hub name.
        device: "cpu" or "cuda[:n]".
        precision: one of ``PRECISIONS``; "auto" is bfloat16 on hardware that multiplies it
            natively, float32 elsewhere.
    """

    modality = "text"

    def __init__(self, ref: ModelRef, device: str = "cpu", precision: str = "auto"):
        from transformers import AutoModel, AutoTokenizer

        folder = _local_folder(ref.source)
        self.config = read_sentence_config(folder)
        super().__init__(ref.id, self.config.dim, device)
        self.precision = resolve_precision(precision, device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.config.transformer_dir)
        if not self.tokenizer.is_fast:
            raise ModelUnavailable(f"{folder}: needs a fast (tokenizer.json) tokenizer")
        model = AutoModel.from_pretrained(
            self.config.transformer_dir, dtype=_TORCH_DTYPES[self.precision]
        ).eval()
        if self.precision == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, torch.qint8)
        self.model = model.to(device)
        probe = self.tokenizer("hello", add_special_tokens=False)["input_ids"]
        wrapped = self.tokenizer("hello", add_special_tokens=True)["input_ids"]
        at = next(i for i in range(len(wrapped)) if wrapped[i : i + len(probe)] == probe)
        # special tokens around one sequence, e.g. [CLS] ... [SEP] for BERT
        self._prefix, self._suffix = wrapped[:at], wrapped[at + len(probe) :]
        self.max_length = self.config.max_length
        self.batch_size = DEVICE_BATCH_SIZE if device.startswith("cuda") else DEFAULT_BATCH_SIZE
        log.info("text encoder %s on %s (%s)", ref.id, device, self.precision)

    def settings(self) -> dict:
        return {
            "model_id": self.model_id,
            "max_length": self.max_length,
            "pooling": self.config.pooling,
            "normalize": True,
            "lowercase": self.config.lowercase,
            "precision": self.precision,
            "quantized": self.precision == "int8",
            "pad_multiple": PAD_MULTIPLE,  # cached embeddings from batch-padded runs differ
        }

    @property
    def _specials(self) -> int:
        """Special tokens around one sequence."""
        return len(self._prefix) + len(self._suffix)

    @property
    def _content_window(self) -> int:
        """Most content tokens in one forward pass (the rest are special tokens)."""
        return self.max_length - self._specials

    @property
    def _long_text_stride(self) -> int:
        """Overlap of the windows of a long text: ``DEFAULT_STRIDE``, less for short windows."""
        return min(DEFAULT_STRIDE, self._content_window // 4)

    def _tokenize(self, texts: Sequence[str]) -> dict:
        """Content token ids (no special tokens, no truncation) of each text."""
        if not texts:
            return {"input_ids": []}
        if self.config.lowercase:
            texts = [t.lower() for t in texts]
        return self.tokenizer(
            list(texts),
            add_special_tokens=False,
            verbose=False,  # long texts are windowed, so the over-length warning does not apply
        )

    def _padded(self, tokens: int) -> int:
        """The length a sequence of ``tokens`` is padded to: the next multiple of
        ``PAD_MULTIPLE`` (at most ``max_length``), whatever else is in its batch."""
        return min(-(-tokens // PAD_MULTIPLE) * PAD_MULTIPLE, max(self.max_length, tokens))

    def _batch(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids and the 0/1 attention mask [b, t] of one batch, on the device."""
        longest = self._padded(max(len(s) for s in sequences))
        ids = np.full((len(sequences), longest), self.tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)

    def layer_mask(self, mask: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """The attention mask the model's layers take, from a 0/1 mask [b, t] of ``states``.

        Built here, not by the model's private helpers (whose signature changes between
        transformers releases): the additive [b, 1, 1, t] mask every BERT-like layer has taken
        since transformers 4, 0 on tokens and the dtype's minimum on padding, in the dtype
        and on the device of ``states``.
        """
        keep = mask[:, None, None, :].to(device=states.device, dtype=states.dtype)
        return (1.0 - keep) * torch.finfo(states.dtype).min

    @property
    def layers(self) -> torch.nn.ModuleList:
        """The transformer layers, in order."""
        return self.model.encoder.layer

    @torch.inference_mode()
    def _forward(
        self,
        sequences: list[list[int]],
        readout: Readout | None = None,
    ):
        """Runs one padded batch; returns the last layer's float32 states [b, t, dim], the bool
        mask [b, t] and the readout's float32 [b, width] (None without one)."""
        ids_t, mask_t = self._batch(sequences)
        if readout is not None:  # layer by layer, reading the states after ``readout.layer``
            states = self.model.embeddings(input_ids=ids_t)
            layer_mask = self.layer_mask(mask_t, states)
            for index, layer in enumerate(self.layers):
                if index == readout.layer:
                    read = readout.read(states, layer_mask, mask_t.bool()).float()
                states = run_layer(layer, states, layer_mask)
            return states.float(), mask_t.bool(), read
        states = self.model(input_ids=ids_t, attention_mask=mask_t).last_hidden_state  # [b, t, dim]
        return states.float(), mask_t.bool(), None

    @torch.inference_mode()
    def lower_states(
        self, texts: Sequence[str], layer: int, batch_size: int | None = None
    ) -> list[torch.Tensor]:
        """Hidden states after the first ``layer`` layers, special tokens included: one
        float16 [n_tokens_i, dim] tensor per text, of its first ``max_length`` tokens (what the
        fine-tuned top layers of ``mmfuse.tasks.social_media.tune`` train on)."""
        ids = self._tokenize(texts)["input_ids"]
        sequences = [self._prefix + seq[: self._content_window] + self._suffix for seq in ids]
        out: list[torch.Tensor] = [torch.empty(0)] * len(texts)
        for index in self._buckets(sequences, batch_size or self.batch_size):
            ids_t, mask_t = self._batch([sequences[i] for i in index])
            states = self.model.embeddings(input_ids=ids_t)
            layer_mask = self.layer_mask(mask_t, states)
            for block in self.layers[:layer]:
                states = run_layer(block, states, layer_mask)
            for row, i in enumerate(index):
                out[i] = states[row, : len(sequences[i])].to(torch.float16).cpu().clone()
        return out

    def _pool(self, states: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        """Sentence vectors [b, dim] from token states, pooled as configured and L2-normalised."""
        keep = mask.unsqueeze(-1)  # [b, t, 1]
        if self.config.pooling == "cls":
            pooled = states[:, 0]
        elif self.config.pooling == "max":
            pooled = states.masked_fill(~keep, float("-inf")).amax(1)
        else:
            pooled = (states * keep).sum(1) / keep.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()

    def _buckets(self, sequences: list[list[int]], batch_size: int, added: int = 0):
        """Index batches of sequences padded to the same length (``_padded`` of their length
        plus the ``added`` special tokens), longest first so that memory peaks early."""
        lengths = np.array([self._padded(len(s) + added) for s in sequences])
        for length in sorted(set(lengths.tolist()), reverse=True):
            members = np.flatnonzero(lengths == length)
            for start in range(0, len(members), batch_size):
                yield members[start : start + batch_size]

    def _embed_windows(
        self, sequences: list[list[int]], batch_size: int, readout: Readout | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Unit vectors [n, dim] of content-token sequences, in the order given, and the
        readout's float32 [n, width] (None without one)."""
        out = np.zeros((len(sequences), self.dim), dtype=np.float32)
        read = None if readout is None else np.zeros((len(sequences), readout.width), np.float32)
        for index in self._buckets(sequences, batch_size, self._specials):
            batch = [self._prefix + sequences[i] + self._suffix for i in index]
            states, mask, values = self._forward(batch, readout=readout)
            out[index] = self._pool(states, mask)
            if read is not None:
                read[index] = values.cpu().numpy()
        return out, read

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embeds texts, each as one unit vector.

        Args:
            texts: N strings of any length. A text longer than ``max_length`` tokens is cut
                into windows of ``max_length`` tokens overlapping by ``DEFAULT_STRIDE`` (a
                quarter window for models shorter than 130 tokens); its vector is the
                renormalised mean of the window vectors.
            batch_size: texts (or windows) per forward pass, grouped by similar length
                (default: ``DEFAULT_BATCH_SIZE`` on the CPU, ``DEVICE_BATCH_SIZE`` on a GPU).

        Returns:
            float32 [N, dim], L2 norm 1 per row, in the order of ``texts``; a text with no
            tokens (empty or whitespace only) gives a zero row.
        """
        return self.encode_read(texts, None, batch_size)[0]

    def encode_read(
        self, texts: Sequence[str], readout: Readout | None, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``encode``, and in the same forward passes the readout of each text (the mean over
        a long text's windows; zeros for a text with no tokens); None without a readout."""
        ids = self._tokenize(texts)["input_ids"]
        windows, owners = [], []
        for owner, seq in enumerate(ids):
            for start, end in token_windows(len(seq), self._content_window, self._long_text_stride):
                windows.append(seq[start:end])
                owners.append(owner)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        read = None if readout is None else np.zeros((len(texts), readout.width), np.float32)
        if not windows:
            return out, read
        owners_np = np.asarray(owners)
        vectors, values = self._embed_windows(windows, batch_size or self.batch_size, readout)
        np.add.at(out, owners_np, vectors)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if read is not None:
            np.add.at(read, owners_np, values)
            read /= np.maximum(np.bincount(owners_np, minlength=len(texts)), 1)[:, None]
        return np.divide(out, norms, out=out, where=norms > 0), read
