"""A post-LayerNorm transformer encoder block with BERT-base shapes (one ``BertLayer``).

hidden 768, 12 heads of 64, FFN 3072, GELU; input (seq, hidden) per sample, e.g. (128, 768).
Q, K, V, the attention output projection and both FFN layers are ``nn.Linear``; the two attention
products Q.K^T and softmax(.).V are ``torch.matmul`` calls on activations, which torch.fx records
as call_function nodes (traced as ``matmul`` layers with groups = batch * heads).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class TransformerBlock(nn.Module):
    def __init__(self, hidden: int = 768, heads: int = 12, ffn: int = 3072, dropout: float = 0.1):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not a multiple of {heads} heads")
        self.heads, self.head_dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        # (..., seq, hidden) -> (..., heads, seq, head_dim)
        return t.unflatten(-1, (self.heads, self.head_dim)).transpose(-3, -2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self._split_heads(self.query(x))
        k = self._split_heads(self.key(x))
        v = self._split_heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = torch.matmul(probs, v).transpose(-3, -2).flatten(-2)
        x = self.attn_norm(x + self.dropout(self.attn_out(context)))
        h = F.gelu(self.ffn_in(x))
        return self.ffn_norm(x + self.dropout(self.ffn_out(h)))
