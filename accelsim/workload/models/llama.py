"""A Llama-style decoder stack: RMSNorm, rotary position embedding (RoPE), SwiGLU MLP, grouped-query
attention (GQA) through ``F.scaled_dot_product_attention``, and the LM head; in two phases.

The input is the token embeddings (sequence, hidden) per sample, as for ``bert_block``: the
embedding lookup does no MACs.  Module and parameter names follow Hugging Face's ``LlamaForCausalLM``
(``layers.0.self_attn.q_proj``, ``mlp.gate_proj`` ...), so masks from an HF-named checkpoint load.

- ``prefill``: the whole prompt of T tokens, causal attention (counted whole: see gemm_ops);
- ``decode``: one new token attending to a KV cache of ``cache_tokens`` earlier tokens plus itself.
  The cache is a (non-persistent) buffer per layer: in the traced workload the attention's
  Q.K^T and P.V read it as their second operand, an activation that comes from DRAM (no layer of
  this pass produced it).

K and V heads are repeated to the query heads before attention (as HF's ``repeat_kv``): the MACs
are those of grouped-query attention, and the K/V projections are ``kv_heads * head_dim`` wide.

Weights are HF's initialisation (``initializer_range`` 0.02: N(0, 0.02) projections, unit norms) and
the KV cache N(0, 1), drawn part by part (``parts()``: each decoder layer, then the final norm with the
LM head) from generators seeded by the seed the model is built under and the part's index.  So a stack
built on the meta device and materialised one part at a time (accelsim.workload.stream_build: a
7B-shaped model in one decoder layer's memory) has exactly the weights of one built whole.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn
from torch.nn import functional as F

from accelsim.workload.models._init import default_init_skipped, nonzero_weights


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, kv_heads: int, cache_tokens: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)
        self.cache_tokens = cache_tokens
        if cache_tokens:
            shape = (1, kv_heads, cache_tokens, self.head_dim)
            self.register_buffer("k_cache", torch.randn(shape), persistent=False)
            self.register_buffer("v_cache", torch.randn(shape), persistent=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        if self.cache_tokens:
            k = torch.cat((self.k_cache.expand(b, -1, -1, -1), k), dim=2)
            v = torch.cat((self.v_cache.expand(b, -1, -1, -1), v), dim=2)
        repeat = self.heads // self.kv_heads
        if repeat > 1:  # HF's repeat_kv returns k and v as they are when each KV head has one query head
            k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=not self.cache_tokens)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, hidden: int, ffn: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, ffn, bias=False)
        self.up_proj = nn.Linear(hidden, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, kv_heads: int, ffn: int, cache_tokens: int):
        super().__init__()
        self.input_layernorm = RMSNorm(hidden)
        self.self_attn = Attention(hidden, heads, kv_heads, cache_tokens)
        self.post_attention_layernorm = RMSNorm(hidden)
        self.mlp = MLP(hidden, ffn)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaStack(nn.Module):
    """``layers`` decoder layers, the final norm and the LM head; ``phase`` "prefill" or "decode".

    Built under ``torch.device("meta")`` it holds no weights: ``init_part(i)`` fills part i once its
    modules are materialised (``to_empty``); built anywhere else every part is filled at once."""

    def __init__(self, hidden: int = 768, layers: int = 12, heads: int = 12, kv_heads: int = 4,
                 ffn: int = 2048, vocab: int = 32000, phase: str = "prefill", cache_tokens: int = 0,
                 rope_theta: float = 10000.0, init_std: float = 0.02):
        super().__init__()
        self.init_seed, self.init_std = torch.initial_seed(), init_std
        if phase not in ("prefill", "decode"):
            raise ValueError(f"phase {phase!r}: prefill or decode")
        if hidden % heads or heads % kv_heads:
            raise ValueError(f"hidden {hidden}, heads {heads}, kv_heads {kv_heads} do not divide")
        cache = cache_tokens if phase == "decode" else 0
        with default_init_skipped(nn.Linear):  # init_part fills every projection (bias-free) below
            self.layers = nn.ModuleList(DecoderLayer(hidden, heads, kv_heads, ffn, cache)
                                        for _ in range(layers))
            self.norm = RMSNorm(hidden)
            self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.start = cache
        head_dim = hidden // heads
        self.head_dim, self.rope_theta = head_dim, rope_theta
        if not self.lm_head.weight.is_meta:
            for i in range(len(self.parts())):
                self.init_part(i)

    def _rope(self, tokens: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        exponent = torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=device) / self.head_dim
        inv_freq = 1.0 / self.rope_theta ** exponent
        positions = torch.arange(self.start, self.start + tokens, dtype=torch.float32, device=device)
        angles = positions[:, None] * inv_freq[None, :]  # elementwise: no MACs
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos(), angles.sin()

    def _decoder(self, layer: DecoderLayer, x: torch.Tensor) -> torch.Tensor:
        squeeze = x.dim() == 2
        y = layer(x[None] if squeeze else x, *self._rope(x.shape[-2], x.device))
        return y[0] if squeeze else y

    def parts(self) -> list[tuple[dict[str, nn.Module], Callable[[torch.Tensor], torch.Tensor]]]:
        """The forward as a chain: per part its modules by qualified name and its function of the
        hidden state (the decoder layers, then the final norm and the LM head)."""
        out: list = [({f"layers.{i}": layer}, lambda x, layer=layer: self._decoder(layer, x))
                     for i, layer in enumerate(self.layers)]
        out.append(({"norm": self.norm, "lm_head": self.lm_head}, lambda x: self.lm_head(self.norm(x))))
        return out

    def init_part(self, index: int) -> None:
        """Fill part ``index``'s weights and KV cache from its own generators (see the module doc);
        the large tensors on two threads, each with its generator, so the result does not depend on it.
        No weight is left exactly 0.0 (the smallest normal float instead, as build_model's
        no_accidental_zeros does): the tracer would read it as pruned."""
        modules, _ = self.parts()[index]
        fills: list[tuple[torch.Tensor, float]] = []
        for root in modules.values():
            for m in root.modules():
                if isinstance(m, RMSNorm):
                    m.weight.data.fill_(1.0)
                elif isinstance(m, nn.Linear):
                    fills.append((m.weight.data, self.init_std))
                elif isinstance(m, Attention) and m.cache_tokens:
                    fills += [(m.k_cache, 1.0), (m.v_cache, 1.0)]
        seeds = torch.Generator().manual_seed((self.init_seed * 1_000_003 + index) % 2**63)
        jobs = [(t, std, int(torch.randint(0, 2**62, (), generator=seeds))) for t, std in fills]

        def fill(job):
            t, std, seed = job
            t.normal_(0.0, std, generator=torch.Generator().manual_seed(seed))
            if std != 1.0:  # a weight (not the KV cache) of exactly 0.0 would read as pruned
                nonzero_weights(t)

        with torch.no_grad(), ThreadPoolExecutor(2) as pool:
            list(pool.map(fill, sorted(jobs, key=lambda j: -j[0].numel())))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, run in self.parts():
            x = run(x)
        return x
