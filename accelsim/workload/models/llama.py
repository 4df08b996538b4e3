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
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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
    """``layers`` decoder layers, the final norm and the LM head; ``phase`` "prefill" or "decode"."""

    def __init__(self, hidden: int = 768, layers: int = 12, heads: int = 12, kv_heads: int = 4,
                 ffn: int = 2048, vocab: int = 32000, phase: str = "prefill", cache_tokens: int = 0,
                 rope_theta: float = 10000.0):
        super().__init__()
        if phase not in ("prefill", "decode"):
            raise ValueError(f"phase {phase!r}: prefill or decode")
        if hidden % heads or heads % kv_heads:
            raise ValueError(f"hidden {hidden}, heads {heads}, kv_heads {kv_heads} do not divide")
        cache = cache_tokens if phase == "decode" else 0
        self.layers = nn.ModuleList(DecoderLayer(hidden, heads, kv_heads, ffn, cache) for _ in range(layers))
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.start = cache
        head_dim = hidden // heads
        inv_freq = 1.0 / rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(self.start, self.start + x.shape[-2], dtype=torch.float32, device=x.device)
        angles = positions[:, None] * self.inv_freq[None, :]  # elementwise: no MACs
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        squeeze = x.dim() == 2
        x = x[None] if squeeze else x
        for layer in self.layers:
            x = layer(x, cos, sin)
        out = self.lm_head(self.norm(x))
        return out[0] if squeeze else out
