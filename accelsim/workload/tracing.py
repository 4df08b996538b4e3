"""nn.Module -> Workload: the entry point ``trace_model`` and the torch.fx front end it falls back on.

``trace_model`` traces with torch.export (accelsim.workload.export_trace: every op with matrix work,
coverage).  torch.fx is kept for what export cannot do: a model whose data-dependent part the user
marked opaque with ``torch.fx.wrap`` (export has no such escape; fx keeps the call as one node).  When
export fails, fx is tried; if it fails too, export's error is raised.  fx sees less: one ``Layer``
per executed ``nn.Conv2d`` ("conv", or "depthwise" when groups > 1 and groups == in_channels),
``nn.Linear`` ("linear", M = product of the input's leading dims) and matmul node (``torch.matmul`` /
``torch.bmm`` / ``@`` / ``Tensor.matmul`` / ``Tensor.bmm``; "matmul", groups = product of the
broadcast batch dims, no weight mask); its coverage lists every parameter it does not simulate.
Subclasses of Conv2d / Linear are kept whole.  A module called twice gives two layers, ``name`` and
``name#2``.  On the zoo both front ends give the same layers, names, masks and ``input_from``.

The fx pass is a ``torch.fx.Interpreter`` doing what ``ShapeProp`` does (ShapeProp prints a
traceback to stderr when a node fails; the library never prints) and measuring, on the same forward
pass, the fraction of nonzero elements in each layer's input (the first operand for a matmul).
Weight masks: accelsim.workload.module_masks.
"""

from __future__ import annotations

import hashlib
import math
import operator
from dataclasses import astuple, replace
from typing import Any

import torch
from torch import fx, nn

from accelsim.errors import AccelsimError, SimulationError
from accelsim.workload.coverage import Coverage, NotSimulated
from accelsim.workload.layer import ConvShape, Layer, Workload, conv_gemm
from accelsim.workload.module_masks import first_line, one_thread, untraceable, weight_mask
from accelsim.workload.packed_mask import packed_bits

_MATMUL_FUNCTIONS = (torch.matmul, torch.bmm, operator.matmul)
_MATMUL_METHODS = ("matmul", "bmm", "__matmul__")
_SYNTHETIC = "measured on synthetic seeded N(0,1) input"


def trace_model(model: nn.Module, input_shape: tuple[int, ...] | None, *, batch: int = 1, name: str = "model",
                input_tensor: torch.Tensor | None = None, measure_activations: bool = True,
                seed: int = 0, front_end: str = "auto", input_source: str | None = None) -> Workload:
    """Trace ``model`` on one (batch, *input_shape) input into a Workload of its GEMM layers.

    The input is seeded N(0,1) noise (on the model's device and dtype), or ``input_tensor`` (batch
    first; it then defines batch and input shape; ``input_source`` says what it is).  The model runs
    once, in eval mode and without grad; every module's training flag is restored afterwards.  Layers
    come out in execution order.
    """
    x, source = trace_input(model, input_shape, batch=batch, name=name, input_tensor=input_tensor, seed=seed,
                            input_source=input_source)
    if not measure_activations:
        source = "assumed dense"
    from accelsim.workload.export_trace import export_workload

    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        workload = export_workload(model, x, name=name, source=source,
                                   measure_activations=measure_activations)
    except SimulationError as export_error:
        if front_end == "export":
            raise
        try:  # torch.fx: for a model torch.export cannot capture but fx can (e.g. fx.wrap-ped calls)
            workload = _fx_workload(model, x, name, source, measure_activations)
        except SimulationError:
            raise export_error from None
    finally:
        for m, training in modes.items():
            m.training = training
    return replace(workload, fingerprint=workload_fingerprint(workload))


def trace_input(model: nn.Module, input_shape: tuple[int, ...] | None, *, batch: int, name: str,
                input_tensor: torch.Tensor | None, seed: int,
                input_source: str | None) -> tuple[torch.Tensor, str]:
    """(the input a trace runs on, what it is): ``input_tensor``, or seeded N(0,1) noise of
    (batch, *input_shape) on the model's device and dtype."""
    if input_tensor is not None:
        if input_shape is not None and tuple(input_shape) != tuple(input_tensor.shape[1:]):
            raise AccelsimError(f"{name}: input_shape {tuple(input_shape)} does not match the given "
                                f"input tensor of shape {tuple(input_tensor.shape)} (batch first)")
        what = input_source or "user input tensor"
        return input_tensor, f"measured on {what} of shape {tuple(input_tensor.shape)}"
    if input_shape is None:
        raise AccelsimError(f"{name}: an input shape (without batch) is needed to trace the model")
    x = torch.randn((batch, *input_shape), generator=torch.Generator().manual_seed(seed))
    first = next((p for p in model.parameters() if p.is_floating_point()), None)
    if first is not None and not first.is_meta:
        x = x.to(first.device, first.dtype)
    return x, _SYNTHETIC


def _fx_workload(model: nn.Module, x: torch.Tensor, name: str, source: str,
                 measure_activations: bool) -> Workload:
    """The torch.fx front end (Conv2d, Linear and matmul only); its coverage lists every parameter it
    does not simulate and counts no other op."""
    # fx traces through the root's own forward, so a bare conv/linear would give F.conv2d: wrap it
    root = nn.Sequential(model) if isinstance(model, (nn.Conv2d, nn.Linear)) else model
    try:
        gm = fx.GraphModule(root, _Tracer().trace(root))
    except Exception as exc:
        raise untraceable(model, name, exc) from exc
    with torch.no_grad():
        recorder = _Recorder(gm, f"{name}: running the traced model on an input of shape "
                             f"{tuple(x.shape)}", measure_activations)
        with one_thread():
            recorder.run(x)
    producers = _producers(gm, recorder.records)
    layers = tuple(replace(_layer(gm, node, rec, source, name), input_from=producers[node])
                   for node, rec in recorder.records)
    if root is not model:
        layers = tuple(replace(layer, name=name) for layer in layers)
    used = {rec["name"].split("#")[0] for _, rec in recorder.records if "name" in rec}
    prefix = "0." if root is not model else ""
    sim, rest = 0, []
    for fqn, p in root.named_parameters():
        module, _, attr = fqn.rpartition(".")
        if module.removeprefix(prefix) in used and attr in ("weight", "weight_orig") or \
                (root is not model and attr == "weight"):
            sim += p.numel()
        else:
            rest.append(NotSimulated(fqn, "", module, params=p.numel(), why="not a Conv2d / Linear weight "
                                     "(the torch.fx front end looks at no other op)"))
    coverage = Coverage(macs_simulated=sum(layer.macs for layer in layers), params_simulated=sim,
                        params_not_simulated=tuple(rest), front_end="torch.fx")
    return Workload(name=name, layers=layers, source=f"torch.fx trace of {type(model).__qualname__}",
                    input_shape=tuple(x.shape[1:]), batch=int(x.shape[0]), coverage=coverage)


def workload_fingerprint(workload: Workload) -> str:
    """First 16 hex digits of a sha256 over every layer's name, shapes, mask bits, labels and inputs
    (``input_from``: which layers feed it, so activations kept on chip never reuse another graph's key)."""
    h = hashlib.sha256()
    for layer in workload.layers:
        conv = astuple(layer.conv) if layer.conv is not None else ()
        h.update(repr((layer.name, layer.kind, layer.m, layer.n, layer.k, layer.groups, conv,
                       str(layer.pattern), layer.target_sparsity, layer.activation_density,
                       layer.input_from)).encode())
        if layer.weight_mask is None:
            h.update(b"no-mask")
        else:
            h.update(repr(layer.weight_mask.shape).encode())
            h.update(packed_bits(layer.weight_mask).tobytes())
    return h.hexdigest()[:16]


class _Tracer(fx.Tracer):
    """fx's tracer, keeping user subclasses of Conv2d / Linear (masked convs etc.) as leaf calls."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, (nn.Conv2d, nn.Linear)) or super().is_leaf_module(m, module_qualified_name)


class _Recorder(fx.Interpreter):
    """Runs the graph; for each layer node keeps (input shapes, output shape, first input density)."""

    def __init__(self, gm: fx.GraphModule, context: str, measure: bool):
        super().__init__(gm)
        self.extra_traceback = False  # our error names the node; torch's addition costs seconds
        self.context, self.measure = context, measure
        self.records: list[tuple[fx.Node, dict[str, Any]]] = []
        self.calls: dict[str, int] = {}

    def run_node(self, n: fx.Node) -> Any:
        kind = _kind(self.module, n)
        rec: dict[str, Any] = {}
        if kind is not None:
            args, _ = self.fetch_args_kwargs_from_env(n)
            tensors = [a for a in args[:2] if isinstance(a, torch.Tensor)]
            rec = {"kind": kind, "inputs": [tuple(t.shape) for t in tensors], "density": 1.0}
            if self.measure and tensors and tensors[0].numel():
                rec["density"] = int(torch.count_nonzero(tensors[0])) / tensors[0].numel()
        try:
            out = super().run_node(n)
        except Exception as exc:
            where = f"module {n.target!r}" if n.op == "call_module" else f"node {n.name!r}"
            raise SimulationError(f"{self.context} failed at {where}: {first_line(exc)}") from exc
        if kind is not None:
            rec["output"] = tuple(out.shape)
            if n.op == "call_module":
                calls = self.calls[n.target] = self.calls.get(n.target, 0) + 1
                rec["name"] = n.target if calls == 1 else f"{n.target}#{calls}"
            self.records.append((n, rec))
        return out


def _producers(gm: fx.GraphModule, records: list[tuple[fx.Node, dict[str, Any]]]) -> dict[fx.Node, tuple]:
    """For each layer node, the layers whose outputs reach its activation operand(s) through the
    ops between them (activations, norms, pooling, adds, reshapes); "" stands for the model input."""
    names = {node: rec.get("name", node.name) for node, rec in records}
    reach: dict[fx.Node, frozenset[str]] = {}
    out = {}
    for node in gm.graph.nodes:
        operands = node.all_input_nodes
        if node in names:
            kind = records[[n for n, _ in records].index(node)][1]["kind"]
            operands = [a for a in node.args[: 2 if kind == "matmul" else 1] if isinstance(a, fx.Node)]
        sources = frozenset().union(*(reach.get(a, frozenset()) for a in operands))
        if node.op == "placeholder":
            sources = frozenset({""})
        if node in names:
            out[node] = tuple(sorted(sources))
            sources = frozenset({names[node]})
        reach[node] = sources
    return out


def _kind(gm: fx.GraphModule, n: fx.Node) -> str | None:
    if n.op == "call_module":
        mod = gm.get_submodule(n.target)
        if isinstance(mod, nn.Conv2d):
            return "depthwise" if 1 < mod.groups == mod.in_channels else "conv"
        return "linear" if isinstance(mod, nn.Linear) else None
    is_matmul = (n.op == "call_function" and n.target in _MATMUL_FUNCTIONS) or (
        n.op == "call_method" and n.target in _MATMUL_METHODS)
    operands = n.args[:2]
    activations = all(isinstance(a, fx.Node) and a.op != "get_attr" for a in operands)
    return "matmul" if is_matmul and len(operands) == 2 and activations else None


def _layer(gm: fx.GraphModule, node: fx.Node, rec: dict[str, Any], source: str, model_name: str) -> Layer:
    kind, density = rec["kind"], rec["density"]
    common = {"activation_density": density, "activation_density_source": source}
    if kind == "matmul":
        a, b = rec["inputs"]
        a2, b2 = (a if len(a) > 1 else (1, *a)), (b if len(b) > 1 else (*b, 1))
        groups = math.prod(torch.broadcast_shapes(a2[:-2], b2[:-2]))
        return Layer(node.name, kind, m=a2[-2], n=b2[-1], k=a2[-1], groups=groups, **common)
    mod = gm.get_submodule(node.target)
    name = rec["name"]
    mask = weight_mask(mod, name, model_name)
    (in_shape,), out_shape = rec["inputs"], rec["output"]
    if kind == "linear":
        return Layer(name, kind, m=math.prod(in_shape[:-1]), n=mod.out_features, k=mod.in_features,
                     weight_mask=mask, **common)
    in_shape, out_shape = (in_shape, out_shape) if len(in_shape) == 4 else ((1, *in_shape), (1, *out_shape))
    (kh, kw), (dh, dw) = mod.kernel_size, mod.dilation
    if mod.padding == "same":  # PyTorch puts the odd extra pad on the bottom/right; out size is exact
        pad = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    else:
        pad = (0, 0) if mod.padding == "valid" else mod.padding
    shape = ConvShape(batch=in_shape[0], in_channels=mod.in_channels, out_channels=mod.out_channels,
                      in_h=in_shape[2], in_w=in_shape[3], out_h=out_shape[2], out_w=out_shape[3],
                      kernel_h=kh, kernel_w=kw, stride_h=mod.stride[0], stride_w=mod.stride[1],
                      pad_h=pad[0], pad_w=pad[1], dilation_h=dh, dilation_w=dw, groups=mod.groups)
    m, n, k = conv_gemm(shape)
    return Layer(name, kind, m=m, n=n, k=k, groups=mod.groups, weight_mask=mask, conv=shape, **common)
