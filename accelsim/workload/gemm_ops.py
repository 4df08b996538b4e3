"""The ops of a torch.export graph that do matrix work, each as GEMM-view layer specs.

``gemms(node, is_weight)`` returns the ``Gemm`` specs of one ATen node, [] for an op without matrix
work, or None for an op with matrix work that accelsim cannot turn into layers (it is then listed in
the workload's coverage as not simulated).  Shapes come from the node's fake-tensor metadata
(``node.meta["val"]``); ``is_weight(node)`` says whether an operand is computed from the model's state
alone (a parameter, possibly masked, viewed or transposed), i.e. a weight with a mask to read.

Conventions (GEMM view ofmap[M x N] = ifmap[M x K] . filter[K x N], ``groups`` such GEMMs):

- conv 1d / 2d / 3d, grouped and depthwise: M = batch * output positions, N = out / groups,
  K = in / groups * kernel size.  1d is a 2d conv of height 1 (a ConvShape); 3d has no ConvShape
  (its mask is kept as (out, in/g, kd*kh, kw), K in (d, h, w, c) order).
- transposed conv: each input position scatters ``in/g`` values through the whole kernel:
  M = batch * input positions, K = in / groups, N = out / groups * kernel size; the mask is kept in
  GEMM layout (groups * N, K), as a linear layer's (out, in).
- linear, matmul / mm / bmm / addmm / baddbmm, einsum (two operands, any contraction): with a weight
  operand it is a "linear" layer (mask in (N, K) layout), else a "matmul" layer without a mask.
- scaled_dot_product_attention: two "matmul" layers, ``.qk`` (M = L, N = S, K = E) and ``.pv``
  (M = L, N = Ev, K = S), groups = batch * query heads (grouped-query attention included).  A causal
  or masked attention is counted whole (L x S), as a dense array computes it and as PyTorch's FLOP
  counter counts it; the useful share of a causal square one is (L + 1) / 2L.
- LSTM / GRU / RNN (``aten.lstm.input`` ...): per layer and direction, one input projection over the
  whole sequence (M = batch * T, N = gates * hidden, K = input size) and one recurrent GEMM per time
  step (M = batch, N = gates * hidden, K = hidden), each step fed by the one before; an LSTM with
  ``proj_size`` adds each step's projection (M = batch, N = proj_size, K = hidden).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import fx

from accelsim.workload.layer import ConvShape

aten = torch.ops.aten
Path = tuple[int, ...]  # an operand's place in node.args: (i,) or (i, j) for a list argument


@dataclass
class Gemm:
    """One layer-to-be: shapes, where its operands are, how its weight mask is laid out."""

    kind: str
    m: int
    n: int
    k: int
    groups: int = 1
    suffix: str = ""  # appended to the layer's name (".qk", ".ih_l0", "@t3" ...)
    activation: Path | None = None  # the operand whose density is measured (None: assumed dense)
    weight: Path | None = None  # the weight operand, if any
    layout: Callable[[np.ndarray], np.ndarray] | None = None  # operand layout -> the layer's mask layout
    conv: ConvShape | None = None
    feeds: tuple[Path, ...] = ()  # operands whose producers feed this layer
    after: tuple[int, ...] = ()  # earlier Gemms of the same node that feed this one
    output: bool = True  # the node's result comes out of this layer
    extra: dict[str, Any] = field(default_factory=dict)


def bound_args(node: fx.Node) -> dict[str, Any]:
    """The node's arguments by schema name, defaults filled in."""
    out = {}
    for i, a in enumerate(node.target._schema.arguments):
        if i < len(node.args):
            out[a.name] = node.args[i]
        elif a.name in node.kwargs:
            out[a.name] = node.kwargs[a.name]
        else:
            out[a.name] = a.default_value if a.has_default_value() else None
    return out


def shape(value: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in value.meta["val"].shape)


def operand(node: fx.Node, path: Path) -> Any:
    value = node.args[path[0]]
    return value if len(path) == 1 else value[path[1]]


def gemms(node: fx.Node, is_weight: Callable[[fx.Node], bool]) -> list[Gemm] | None:
    packet = getattr(node.target, "overloadpacket", None)
    handler = _HANDLERS.get(packet)
    if handler is not None:
        return handler(node, is_weight)
    if packet in _MAC_OPS_NOT_SIMULATED:
        return None
    return []


def _expand(value: Any, n: int) -> list[int]:
    value = [value] if isinstance(value, int) else list(value)
    return value * n if len(value) == 1 else value


def _conv(node: fx.Node, is_weight) -> list[Gemm] | None:
    a = bound_args(node)
    transposed = bool(a.get("transposed", node.target.overloadpacket in _TRANSPOSED))
    x, w = a["input"], a["weight"]
    w_shape, x_shape, y_shape = shape(w), shape(x), tuple(int(d) for d in node.meta["val"].shape)
    dims = len(w_shape) - 2
    if len(x_shape) == dims + 1:  # unbatched
        x_shape, y_shape = (1, *x_shape), (1, *y_shape)
    g = int(a["groups"])
    kernel = w_shape[2:]
    weighted = is_weight(w)
    path = (1,) if node.args[1] is w else None
    if transposed:
        cin_g, n = w_shape[0] // g, w_shape[1] * math.prod(kernel)

        def layout(mask: np.ndarray) -> np.ndarray:
            return mask.reshape(g, cin_g, n).transpose(0, 2, 1).reshape(g * n, cin_g)

        return [Gemm("conv_transpose", m=x_shape[0] * math.prod(x_shape[2:]), n=n, k=cin_g, groups=g,
                     activation=(0,), weight=path if weighted else None, layout=layout, feeds=((0,),))]
    cin, cout = x_shape[1], w_shape[0]
    m, n, k = x_shape[0] * math.prod(y_shape[2:]), cout // g, (cin // g) * math.prod(kernel)
    kind = "depthwise" if 1 < g == cin else "conv"
    conv, layout = None, None
    if dims in (1, 2):
        stride, dilation = _expand(a["stride"], dims), _expand(a["dilation"], dims)
        padding = a["padding"]
        if padding == "same":  # PyTorch puts the odd extra pad on the bottom/right; out size is exact
            padding = [d * (kk - 1) // 2 for d, kk in zip(dilation, kernel, strict=True)]
        padding = [0] * dims if padding == "valid" else _expand(padding, dims)
        if dims == 1:
            stride, dilation, padding = [1, *stride], [1, *dilation], [0, *padding]
            kernel, x_sp, y_sp = (1, *kernel), (1, x_shape[2]), (1, y_shape[2])

            def layout(mask: np.ndarray) -> np.ndarray:
                return mask[:, :, None, :]
        else:
            x_sp, y_sp = x_shape[2:], y_shape[2:]
        conv = ConvShape(batch=x_shape[0], in_channels=cin, out_channels=cout, in_h=x_sp[0], in_w=x_sp[1],
                         out_h=y_sp[0], out_w=y_sp[1], kernel_h=kernel[0], kernel_w=kernel[1],
                         stride_h=stride[0], stride_w=stride[1], pad_h=padding[0], pad_w=padding[1],
                         dilation_h=dilation[0], dilation_w=dilation[1], groups=g)
    else:
        def layout(mask: np.ndarray) -> np.ndarray:
            return mask.reshape(*mask.shape[:2], math.prod(mask.shape[2:-1]), mask.shape[-1])
    return [Gemm(kind, m=m, n=n, k=k, groups=g, activation=(0,), weight=path if weighted else None,
                 layout=layout, conv=conv, feeds=((0,),))]


def _linear(node: fx.Node, is_weight) -> list[Gemm]:
    x, w = node.args[0], node.args[1]
    x_shape, (n, k) = shape(x), shape(w)
    m = math.prod(x_shape[:-1])
    if is_weight(w):
        return [Gemm("linear", m=m, n=n, k=k, activation=(0,), weight=(1,), feeds=((0,),))]
    return [Gemm("matmul", m=m, n=n, k=k, activation=(0,), feeds=((0,), (1,)))]


def _matmul(node: fx.Node, is_weight) -> list[Gemm] | None:
    first = 1 if node.target.overloadpacket in (aten.addmm, aten.baddbmm, aten.addbmm) else 0
    pa, pb = (first,), (first + 1,)
    a, b = shape(node.args[first]), shape(node.args[first + 1])
    a2, b2 = (a if len(a) > 1 else (1, *a)), (b if len(b) > 1 else (*b, 1))
    if is_weight(node.args[first + 1]) and len(b) == 2:  # x @ W: W is (K, N)
        return [Gemm("linear", m=math.prod(a2[:-1]), n=b[1], k=b[0], activation=pa, weight=pb,
                     layout=np.transpose, feeds=(pa,))]
    if is_weight(node.args[first]) and len(a) == 2:  # W @ x: (x^T W^T), W is (N, K) already
        m = b2[-1] * math.prod(b2[:-2])
        return [Gemm("linear", m=m, n=a[0], k=a[1], activation=pb, weight=pa, feeds=(pb,))]
    groups = math.prod(torch.broadcast_shapes(a2[:-2], b2[:-2]))
    if node.target.overloadpacket is aten.addbmm:
        groups = a2[0]
    return [Gemm("matmul", m=a2[-2], n=b2[-1], k=a2[-1], groups=groups, activation=pa, feeds=(pa, pb))]


def _einsum(node: fx.Node, is_weight) -> list[Gemm] | None:
    equation, operands = node.args[0], node.args[1]
    if len(operands) == 1:
        return []  # a permutation / reduction: no multiplications
    if len(operands) != 2:
        return None
    lhs, arrow, out = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    shapes = [shape(o) for o in operands]
    used = set(re.sub(r"[^A-Za-z]", "", lhs))
    spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used]
    ell = max(len(s) - len(t.replace("...", "")) for s, t in zip(shapes, terms, strict=True))
    fill = "".join(spare[:ell])
    terms = [t.replace("...", fill[ell - (len(s) - len(t.replace("...", ""))):]) for s, t in
             zip(shapes, terms, strict=True)]
    if not arrow:
        counts = "".join(terms)
        out = "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    out = out.replace("...", fill)
    size = {}
    for t, s in zip(terms, shapes, strict=True):
        size.update(dict(zip(t, s, strict=True)))
    ta, tb = terms
    batch = [c for c in ta if c in tb and c in out]
    m_l = [c for c in ta if c not in tb and c in out]
    n_l = [c for c in tb if c not in ta and c in out]
    k_l = [c for c in ta if c in tb and c not in out]
    prod = lambda letters: math.prod(size[c] for c in letters)  # noqa: E731
    g, m, n, k = prod(batch), prod(m_l), prod(n_l), prod(k_l)
    for w_i, x_i, w_term, n_side, m_side in ((1, 0, tb, n_l, m_l), (0, 1, ta, m_l, n_l)):
        if is_weight(operands[w_i]):
            order = [w_term.index(c) for c in batch + n_side + k_l if c in w_term]
            if len(order) != len(w_term):
                break  # the weight has letters summed on their own: not a plain GEMM weight

            rows = g * prod(n_side)

            def layout(mask: np.ndarray, order=order, rows=rows) -> np.ndarray:
                return mask.transpose(order).reshape(rows, -1)

            return [Gemm("linear", m=prod(m_side), n=prod(n_side), k=k, groups=g, activation=(1, x_i),
                         weight=(1, w_i), layout=layout, feeds=((1, x_i),))]
    return [Gemm("matmul", m=m, n=n, k=k, groups=g, activation=(1, 0), feeds=((1, 0), (1, 1)))]


def _sdpa(node: fx.Node, is_weight) -> list[Gemm]:
    q, kk, v = (shape(node.args[i]) for i in range(3))
    groups = math.prod(q[:-2])
    causal = bool(bound_args(node)["is_causal"])
    return [Gemm("matmul", m=q[-2], n=kk[-2], k=q[-1], groups=groups, suffix=".qk", activation=(0,),
                 feeds=((0,), (1,)), output=False, extra={"causal": causal}),
            Gemm("matmul", m=q[-2], n=v[-1], k=kk[-2], groups=groups, suffix=".pv", feeds=((2,),), after=(0,),
                 extra={"causal": causal})]


_GATES = {aten.lstm: 4, aten.gru: 3, aten.rnn_tanh: 1, aten.rnn_relu: 1}


def _rnn(node: fx.Node, is_weight) -> list[Gemm] | None:
    if node.target not in (aten.lstm.input, aten.gru.input, aten.rnn_tanh.input, aten.rnn_relu.input):
        return None  # packed sequences: lengths differ per sample
    a = bound_args(node)
    params, layers, bidir = a["params"], int(a["num_layers"]), bool(a["bidirectional"])
    dirs = 2 if bidir else 1
    stride = 4 if a["has_biases"] else 2
    proj = len(params) == layers * dirs * (stride + 1)  # an LSTM with proj_size: w_hr after the biases
    stride += proj
    if len(params) != layers * dirs * stride:
        return None
    x = shape(a["input"])
    if len(x) == 2:
        x = (x[0], 1, x[1])
    t_steps, batch = (x[1], x[0]) if a["batch_first"] else (x[0], x[1])
    p_index = list(node.target._schema.arguments).index(
        next(s for s in node.target._schema.arguments if s.name == "params"))
    out: list[Gemm] = []
    previous: list[int] = []  # the last step of each direction of the layer below
    for layer in range(layers):
        last = []
        for d in range(dirs):
            base = (layer * dirs + d) * stride
            w_ih, w_hh = shape(params[base]), shape(params[base + 1])
            ih_path, hh_path = (p_index, base), (p_index, base + 1)
            tag = f"_l{layer}" + ("_reverse" if d else "")
            out.append(Gemm("linear", m=batch * t_steps, n=w_ih[0], k=w_ih[1], suffix=f".ih{tag}",
                            activation=(0,) if layer == 0 else None,
                            weight=ih_path if is_weight(params[base]) else None,
                            feeds=((0,),) if layer == 0 else (), after=tuple(previous), output=False,
                            extra={"rnn": True}))
            ih = len(out) - 1
            for step in range(t_steps):
                out.append(Gemm("linear", m=batch, n=w_hh[0], k=w_hh[1], suffix=f".hh{tag}@t{step}",
                                weight=hh_path if is_weight(params[base + 1]) else None,
                                feeds=((1,),) if step == 0 else (),
                                after=(ih,) if step == 0 else (ih, len(out) - 1), output=False,
                                extra={"rnn": True}))
                if proj:  # h_t = W_hr (o * tanh(c)): the projection of every step
                    w_hr, hr_path = shape(params[base + stride - 1]), (p_index, base + stride - 1)
                    out.append(Gemm("linear", m=batch, n=w_hr[0], k=w_hr[1], suffix=f".hr{tag}@t{step}",
                                    weight=hr_path if is_weight(params[base + stride - 1]) else None,
                                    after=(len(out) - 1,), output=False, extra={"rnn": True}))
            last.append(len(out) - 1)
        previous = last
    for i in previous:
        out[i].output = True
    return out


_TRANSPOSED = (aten.conv_transpose1d, aten.conv_transpose2d, aten.conv_transpose3d)
_HANDLERS = {
    **{p: _conv for p in (aten.conv1d, aten.conv2d, aten.conv3d, aten.convolution, aten._convolution,
                          *_TRANSPOSED)},
    aten.linear: _linear,
    **{p: _matmul for p in (aten.matmul, aten.mm, aten.bmm, aten.addmm, aten.baddbmm, aten.addbmm)},
    aten.einsum: _einsum,
    aten.scaled_dot_product_attention: _sdpa,
    **{p: _rnn for p in _GATES},
}
# ops with matrix work that accelsim does not turn into layers: listed in the coverage, never dropped
_MAC_OPS_NOT_SIMULATED = {aten.mv, aten.dot, aten.vdot, aten.addmv, aten.outer, aten.ger, aten.addr,
                          aten.bilinear, aten.tensordot, aten.kron, aten.chain_matmul, aten.linalg_multi_dot,
                          aten.conv_tbc, aten._scaled_mm, aten._scaled_dot_product_flash_attention_for_cpu,
                          aten._scaled_dot_product_efficient_attention,
                          aten._scaled_dot_product_flash_attention,
                          aten.lstm_cell, aten.gru_cell, aten.rnn_tanh_cell, aten.rnn_relu_cell}
