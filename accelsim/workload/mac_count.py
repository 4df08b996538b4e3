"""An independent MAC count of one forward pass, to check the traced workload's against (MAC parity).

PyTorch's own counter (``torch.utils.flop_counter.FlopCounterMode``, which counts at dispatch what the
kernels are asked to do: mm, bmm, addmm, baddbmm, convolution, SDPA on GPU), MACs = FLOPs / 2, with
the two things it misses on CPU counted beside it:

- ``F.scaled_dot_product_attention`` runs as ``_scaled_dot_product_flash_attention_for_cpu``, which has
  no formula in torch: it is given PyTorch's own SDPA formula (``sdpa_flop_count``: Q.K^T and P.V
  whole, causal or not);
- ``nn.LSTM`` runs as one fused CPU kernel that FlopCounterMode counts as 0: an LSTM module the
  counter saw no FLOPs in is counted by hand from its input shape (per layer and direction:
  T * B * (4H * (I + P) + P * H), P = proj_size or H, the last term only with a projection).

It runs with grad enabled: nn.MultiheadAttention and nn.TransformerEncoderLayer then take their
unfused path (their fused CPU fast path, taken under no_grad in eval mode, is invisible to the
counter; its MACs are the same).  It shares no code with the tracer (accelsim.workload.export_trace,
gemm_ops).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

aten = torch.ops.aten


def _sdpa_cpu_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _lstm_macs(module: nn.LSTM, x: torch.Tensor) -> int:
    if x.dim() == 2:
        t_steps, batch = x.shape[0], 1
    else:
        t_steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
    dirs = 2 if module.bidirectional else 1
    h, out = module.hidden_size, module.proj_size or module.hidden_size
    macs, size_in = 0, module.input_size
    for _ in range(module.num_layers):
        per_step = 4 * h * (size_in + out) + (h * out if module.proj_size else 0)
        macs += dirs * t_steps * batch * per_step
        size_in = out * dirs
    return macs


def count_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of ``model(x)`` (eval mode) by PyTorch's FLOP counter plus SDPA and LSTM as above."""
    mapping = {aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops}
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    lstm, before = [0], {}

    def pre_hook(module, _args):
        before[module] = counter.get_total_flops()

    def hook(module, args, _out):  # by hand only when the counter saw nothing (the fused kernel)
        if counter.get_total_flops() == before[module]:
            lstm[0] += _lstm_macs(module, args[0])

    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    handles = [m.register_forward_pre_hook(pre_hook) for m in lstms]
    handles += [m.register_forward_hook(hook) for m in lstms]
    training = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.enable_grad(), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in training.items():
            m.training = mode
    return counter.get_total_flops() // 2 + lstm[0]
