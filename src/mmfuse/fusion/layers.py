"""Building blocks of the fusion transformer: timestamp encoding, encoder layer, task decoder.

Every residual branch starts at zero and every map on the value path starts as the identity, so
an untrained stack passes its input embeddings through unchanged: the encoder returns its input
and each task's pooled vector is the mean of the present tokens (see ``FusionModel``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Longest wavelength of the sinusoidal encoding (Vaswani et al. 2017, section 3.5).
MAX_PERIOD = 10_000.0


def sinusoidal_encoding(times: Tensor, dim: int) -> Tensor:
    """Sin/cos features of timestamps (seconds or chunk indices).

    Args:
        times: float [...] timestamps.
        dim: number of features.

    Returns:
        float32 [..., dim]: sines in the first half, cosines in the second (a zero column last
        when ``dim`` is odd).
    """
    half = dim // 2
    steps = torch.arange(half, device=times.device, dtype=torch.float32)
    frequencies = torch.exp(-math.log(MAX_PERIOD) * steps / max(half, 1))
    angles = times.float()[..., None] * frequencies  # [..., half]
    features = [angles.sin(), angles.cos()]
    if dim % 2:
        features.append(torch.zeros_like(angles[..., :1]))
    return torch.cat(features, dim=-1)


def identity_(linear: nn.Linear) -> nn.Linear:
    """Sets a square linear map to the identity with zero bias; returns it."""
    with torch.no_grad():
        linear.weight.copy_(torch.eye(linear.out_features, linear.in_features))
        if linear.bias is not None:
            linear.bias.zero_()
    return linear


def zero_(linear: nn.Linear) -> nn.Linear:
    """Sets a linear map's weight and bias to zero; returns it."""
    nn.init.zeros_(linear.weight)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    return linear


class FeedForward(nn.Module):
    """The residual branch ``down(gelu(up(norm(x))))``; ``down`` starts at zero."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, hidden)
        self.down = zero_(nn.Linear(hidden, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """[..., dim] -> [..., dim], the branch only (the caller adds the residual)."""
        return self.down(self.dropout(F.gelu(self.up(self.norm(x)))))


class EncoderLayer(nn.Module):
    """Pre-LN multi-head self-attention and feed-forward, both residual branches zero at init."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = zero_(nn.Linear(d_model, d_model))
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)
        self.attention_dropout = dropout

    def forward(self, x: Tensor, keys: Tensor) -> Tensor:
        """Self-attention over the tokens, each query seeing only the tokens marked in ``keys``.

        Args:
            x: float32 [batch, n_tokens, d_model].
            keys: bool [batch, n_tokens], True for tokens that may be attended to; every row
                needs at least one True (rows of absent items get an arbitrary finite output).

        Returns:
            float32 [batch, n_tokens, d_model].
        """
        batch, n_tokens, d_model = x.shape
        heads = self.qkv(self.norm(x)).view(batch, n_tokens, 3, self.n_heads, -1)
        q, k, v = heads.permute(2, 0, 3, 1, 4)  # each [batch, n_heads, n_tokens, d_head]
        attended = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=keys[:, None, None, :],
            dropout_p=self.attention_dropout if self.training else 0.0,
        )  # [batch, n_heads, n_tokens, d_head]
        attended = attended.transpose(1, 2).reshape(batch, n_tokens, d_model)
        x = x + self.dropout(self.out(attended))
        return x + self.feed_forward(x)


class TaskDecoder(nn.Module):
    """One learned query per task cross-attends to the encoder output (multi-head).

    Keys come from the normalised encoder output, values from the encoder output itself; the
    queries start at zero (uniform attention over present tokens) and the value and output maps
    as the identity, so at init each task's pooled vector is the mean of the present tokens.
    A per-task feed-forward branch (zero at init) then refines the pooled vector.
    """

    def __init__(self, d_model: int, n_heads: int, d_task_ff: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.d_task_ff = d_task_ff
        self.dropout = dropout
        self.norm = nn.LayerNorm(d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = identity_(nn.Linear(d_model, d_model))
        self.out = identity_(nn.Linear(d_model, d_model))
        self.queries = nn.ParameterDict()
        self.refine = nn.ModuleDict()

    def add_task(self, name: str) -> None:
        """Adds a task's query (zero: uniform attention) and its refining branch (zero)."""
        d_model = self.key.in_features
        self.queries[name] = nn.Parameter(torch.zeros(d_model))
        if self.d_task_ff:
            self.refine[name] = FeedForward(d_model, self.d_task_ff, self.dropout)

    def forward(self, memory: Tensor, present: Tensor, tasks: list[str]) -> tuple[Tensor, Tensor]:
        """Pools the encoder output once per task.

        Args:
            memory: float32 [batch, n_tokens, d_model] encoder output.
            present: bool [batch, n_tokens], True for present tokens.
            tasks: task names, in output order.

        Returns:
            pooled: float32 [batch, n_tasks, d_model]; zeros for an item with no token.
            weights: float32 [batch, n_tasks, n_tokens] attention weights averaged over heads;
                each row sums to 1 (0 for an item with no token).
        """
        batch, n_tokens, d_model = memory.shape
        d_head = d_model // self.n_heads
        keys = self.key(self.norm(memory)).view(batch, n_tokens, self.n_heads, d_head)
        values = self.value(memory).view(batch, n_tokens, self.n_heads, d_head)
        queries = torch.stack([self.queries[t] for t in tasks]).view(len(tasks), self.n_heads, -1)
        logits = torch.einsum("qhd,bthd->bqht", queries, keys) / math.sqrt(d_head)
        has_tokens = present.any(dim=1)  # [batch]
        visible = present | ~has_tokens[:, None]  # an empty item sees all, then weighs none
        logits = logits.masked_fill(~visible[:, None, None, :], float("-inf"))
        weights = torch.softmax(logits, dim=-1)  # [batch, n_tasks, n_heads, n_tokens]
        weights = weights * has_tokens[:, None, None, None]
        pooled = torch.einsum("bqht,bthd->bqhd", weights, values).reshape(batch, len(tasks), -1)
        pooled = self.out(pooled)
        if self.d_task_ff:
            refined = [pooled[:, i] + self.refine[t](pooled[:, i]) for i, t in enumerate(tasks)]
            pooled = torch.stack(refined, dim=1)
        pooled = pooled * has_tokens[:, None, None]  # an item with no token pools to zero
        return pooled, weights.mean(dim=2)
