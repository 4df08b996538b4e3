"""nn.Module -> Workload through ``torch.export``: every op with matrix work, real masks, coverage.

``torch.export.export(model, (x,), strict=False)`` captures the forward as an ATen graph (HF and timm
models unchanged); each node keeps the module it came from (``nn_module_stack``) and the parameters
are placeholders named by their state-dict keys.  accelsim.workload.gemm_ops turns each op with
matrix work into layers; one run of the graph (``fx.Interpreter``) measures the density of each
layer's input activations.

Names: a layer with a weight is named after its parameter (``layer1.0.conv1`` for
``layer1.0.conv1.weight``, ``attn.in_proj`` for ``attn.in_proj_weight``; a module called twice gives
``name`` and ``name#2``); an RNN's layers after the module (``lstm.ih_l0``, ``lstm.hh_l0@t3``); a
product of two activations after its graph node (``matmul_1``, ``scaled_dot_product_attention.qk``).

Weight masks are read from the module that owns the parameter (module_masks.weight_mask: a
torch.nn.utils.prune ``weight_mask``, torch.ao parametrizations, an ASP mask, else the weight's exact
zeros) when the op uses the weight in the module's own layout, else from the exact zeros of the
operand the op actually multiplied with.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import fx, nn
from torch.export.graph_signature import InputKind
from torch.utils.flop_counter import flop_registry

from accelsim.errors import SimulationError
from accelsim.workload.coverage import Coverage, NotSimulated
from accelsim.workload.gemm_ops import Gemm, gemms, operand
from accelsim.workload.layer import Layer, Workload
from accelsim.workload.module_masks import one_thread, untraceable, weight_mask


@dataclass
class _Op:
    node: fx.Node
    specs: list[Gemm]
    names: list[str]


def export_program(model: nn.Module, x: torch.Tensor, name: str) -> torch.export.ExportedProgram:
    """``torch.export`` of ``model`` on the input ``x`` (non-strict), or a SimulationError saying why."""
    logging.disable(logging.CRITICAL)  # torch logs a failed fake-tensor op to stderr; the library is quiet
    quiet = io.StringIO()  # and prints the partial graph of a data-dependent failure: the error says it
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")  # export's advice on attributes set in forward (RNNs): noise here
            with torch.no_grad():  # so that no_grad regions in the model need no wrapped subgraph
                return torch.export.export(_Outputs(model), (x,), strict=False)
    except Exception as exc:  # export raises many types; the message names the module and the line
        raise untraceable(model, name, exc, "torch.export cannot capture") from exc
    finally:
        logging.disable(logging.NOTSET)


class _Outputs(nn.Module):
    """The model with its output reduced to its tensors: HF models return a ModelOutput holding a
    KV cache object torch.export cannot flatten.  Its one child ``m`` is stripped from every name."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.m = model

    def forward(self, x):
        return tuple(_tensors(self.m(x)))


def _tensors(out: Any) -> list:
    if isinstance(out, torch.Tensor):
        return [out]
    items = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else ()
    return [t for item in items for t in _tensors(item)]


def _unwrap(fqn: str) -> str:
    return fqn[2:] if fqn.startswith("m.") else "" if fqn == "m" else fqn


def export_workload(model: nn.Module, x: torch.Tensor, *, name: str, source: str,
                    measure_activations: bool) -> Workload:
    ep = export_program(model, x, name)
    gm, values, user, state_fqn, state_key = _inputs(ep, x, name)
    origin = _origins(gm, user, state_fqn)

    def is_weight(node: Any) -> bool:
        return isinstance(node, fx.Node) and origin[node][0] and not origin[node][1]

    ops, missing = [], []
    for node in gm.graph.nodes:
        if node.op != "call_function":
            continue
        if isinstance(node.target, torch._ops.HigherOrderOperator):
            if _hop_macs(gm, node) != 0:  # a wrapped region with matrix work (its MACs, or -1: unknown)
                missing.append(node)
            continue
        specs = gemms(node, is_weight)
        if specs:
            ops.append(_Op(node, specs, []))
        elif specs is None or getattr(node.target, "overloadpacket", None) in flop_registry:
            missing.append(node)
    _name_layers(ops, origin, name)
    measured = _run(gm, values, {op.node: op.specs for op in ops}, measure_activations, name)
    feeds, output_from = _input_from(gm, ops, user)
    layers = []
    for op in ops:
        for i, (spec, layer_name) in enumerate(zip(op.specs, op.names, strict=True)):
            density, weight_value, input_mask = measured[op.node][i]
            mask = None
            if spec.weight is not None:
                mask = _mask(model, operand(op.node, spec.weight), weight_value, origin, spec, layer_name,
                             name)
            layers.append(Layer(layer_name, spec.kind, m=spec.m, n=spec.n, k=spec.k, groups=spec.groups,
                                weight_mask=mask, activation_density=density,
                                activation_density_source=source, input_mask=input_mask,
                                conv=spec.conv, input_from=feeds[(op.node, i)]))
    coverage = _coverage(gm, ops, missing, layers, state_fqn, state_key, ep, origin)
    return Workload(name=name, layers=tuple(layers),
                    source=f"torch.export trace of {type(model).__qualname__}",
                    input_shape=tuple(x.shape[1:]), batch=int(x.shape[0]), coverage=coverage,
                    output_from=output_from)


def _inputs(ep, x: torch.Tensor, name: str):
    """(graph module, its positional inputs, the user-input placeholders, placeholder -> state key)."""
    values, user, state_fqn, state_key = [], set(), {}, {}
    params = set(ep.graph_signature.parameters)
    for spec in ep.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            user.add(spec.arg.name)
            values.append(x)
        elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            store = ep.state_dict if spec.target in ep.state_dict else ep.constants
            values.append(store[spec.target])
            state_fqn[spec.arg.name] = (_unwrap(spec.target), spec.target in params)
            state_key[spec.arg.name] = spec.target
        else:
            raise SimulationError(f"{name}: torch.export input {spec.arg.name!r} of kind {spec.kind.name} "
                                  "is not supported (give a model whose forward takes one tensor)")
    if len(user) != 1:
        raise SimulationError(f"{name}: the exported forward takes {len(user)} tensor inputs; accelsim gives "
                              "one (wrap the model in a module whose forward takes one tensor)")
    return ep.graph_module, values, user, state_fqn, state_key


def _origins(gm: fx.GraphModule, user: set[str], state_fqn: dict) -> dict[fx.Node, tuple]:
    """Per node: (the parameters it is computed from, whether the model input reaches it)."""
    out: dict[fx.Node, tuple] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            fqn = state_fqn.get(node.name)
            out[node] = (frozenset({fqn[0]}) if fqn and fqn[1] else frozenset(), node.name in user)
            if fqn and not fqn[1]:  # a buffer / constant: part of the state, not a parameter
                out[node] = (frozenset({f"buffer:{fqn[0]}"}), False)
            continue
        ins = [out[a] for a in node.all_input_nodes]
        out[node] = (frozenset().union(*(p for p, _ in ins)), any(u for _, u in ins))
    return out


def _param_of(node: fx.Node, origin) -> str | None:
    params = [p for p in origin[node][0] if not p.startswith("buffer:")]
    return params[0] if len(params) == 1 else None


def _owner(fqn: str) -> tuple[str, str]:
    """(module path, the parameter's name in it) with prune's ``weight_orig`` and parametrizations undone."""
    if ".parametrizations." in f".{fqn}":
        head, _, tail = f".{fqn}".partition(".parametrizations.")
        return head[1:], tail.split(".")[0]
    module, _, attr = fqn.rpartition(".")
    return module, attr.removesuffix("_orig")


def _name_layers(ops: list[_Op], origin, model_name: str) -> None:
    calls: dict[str, int] = {}
    for op in ops:
        for spec in op.specs:
            base = op.node.name
            stack = op.node.meta.get("nn_module_stack") or {}
            module = _unwrap(list(stack.values())[-1][0]) if stack else ""
            if spec.extra.get("rnn") or (spec.suffix in (".qk", ".pv") and module):
                base = module or op.node.name
            elif spec.weight is not None and (fqn := _param_of(operand(op.node, spec.weight), origin)):
                module, attr = _owner(fqn)
                leaf = "" if attr == "weight" else attr.removesuffix("_weight")
                base = ".".join(p for p in (module, leaf) if p) or model_name
            full = base + spec.suffix
            calls[full] = calls.get(full, 0) + 1
            op.names.append(full if calls[full] == 1 else f"{full}#{calls[full]}")


class _Recorder(fx.Interpreter):
    """Runs the exported graph; per layer spec keeps (input density, weight operand)."""

    def __init__(self, gm, specs: dict[fx.Node, list[Gemm]], measure: bool, context: str):
        super().__init__(gm)
        self.extra_traceback = False
        self.specs, self.measure, self.context = specs, measure, context
        self.out: dict[fx.Node, list[tuple[float, Any]]] = {}

    def run_node(self, n: fx.Node) -> Any:
        if n in self.specs:
            args, _ = self.fetch_args_kwargs_from_env(n)
            rec = []
            for spec in self.specs[n]:
                density, mask = 1.0, None
                if self.measure and spec.activation is not None:
                    t = _at(args, spec.activation)
                    density = int(torch.count_nonzero(t)) / t.numel() if t.numel() else 1.0
                    mask = _input_mask(spec, t)
                rec.append((density, None if spec.weight is None else _at(args, spec.weight), mask))
            self.out[n] = rec
        try:
            return super().run_node(n)
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            raise SimulationError(f"{self.context} failed at node {n.name!r}: {type(exc).__name__}: "
                                  f"{lines[0] if lines else ''}") from exc


def _input_mask(spec: Gemm, t: torch.Tensor) -> np.ndarray | None:
    """The nonzeros of a weighted layer's input, where the layout is the storage's (Layer.input_mask):
    a 2-D conv's (batch, C, H, W), a linear layer's (M, K); else None (its density stands)."""
    if spec.weight is None or spec.groups < 1:
        return None
    if spec.conv is not None and spec.kind in ("conv", "depthwise") and t.dim() == 4:
        return (t != 0).numpy()
    if spec.kind == "linear" and spec.groups == 1 and t.dim() >= 1 and t.shape[-1] == spec.k \
            and t.numel() == spec.m * spec.k:
        return (t != 0).reshape(spec.m, spec.k).numpy()
    return None


def _at(args, path):
    value = args[path[0]]
    return value if len(path) == 1 else value[path[1]]


def _run(gm, values, specs, measure: bool, name: str):
    rec = _Recorder(gm, specs, measure, f"{name}: running the exported model")
    with torch.no_grad(), one_thread():
        rec.run(*values)
    return rec.out


def _mask(model: nn.Module, node: fx.Node, value: torch.Tensor, origin, spec: Gemm, layer: str,
          model_name: str) -> np.ndarray:
    array = None
    fqn = _param_of(node, origin)
    if fqn is not None:
        module_path, attr = _owner(fqn)
        try:
            module = model.get_submodule(module_path)
        except AttributeError:
            module = None
        if attr == "weight" and isinstance(getattr(module, "weight", None), torch.Tensor) and \
                tuple(module.weight.shape) == tuple(value.shape):
            array = np.asarray(weight_mask(module, layer, model_name))
    if array is None:
        array = (value != 0).detach().cpu().numpy()
    if spec.layout is not None:
        array = spec.layout(array)
    array = np.ascontiguousarray(array, dtype=bool)
    array.flags.writeable = False
    return array


def _input_from(gm, ops: list[_Op], user: set[str]) -> tuple[dict[tuple, tuple[str, ...]], tuple[str, ...]]:
    """For each layer, the layers whose outputs reach its activation operands ("" = the model input);
    and those that reach the model's output."""
    by_node = {op.node: op for op in ops}
    reach: dict[fx.Node, frozenset[str]] = {}
    out = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            reach[node] = frozenset({""}) if node.name in user else frozenset()
            continue
        op = by_node.get(node)
        if op is None:
            reach[node] = frozenset().union(*(reach.get(a, frozenset()) for a in node.all_input_nodes))
            continue
        for i, spec in enumerate(op.specs):
            sources = set()
            for path in spec.feeds:
                value = operand(node, path)
                for a in (value if isinstance(value, (list, tuple)) else [value]):
                    if isinstance(a, fx.Node):
                        sources |= reach.get(a, frozenset())
            sources |= {op.names[j] for j in spec.after}
            out[(node, i)] = tuple(sorted(sources))
        reach[node] = frozenset(op.names[i] for i, s in enumerate(op.specs) if s.output)
    ends = [a for node in gm.graph.nodes if node.op == "output" for a in node.all_input_nodes]
    return out, tuple(sorted(frozenset().union(*(reach.get(a, frozenset()) for a in ends))))


def _hop_macs(gm: fx.GraphModule, node: fx.Node) -> int:
    """MACs of the ops with matrix work inside a higher-order op's subgraphs (-1: some unknown)."""
    total = 0
    for arg in node.args:
        sub = getattr(gm, arg.target, None) if isinstance(arg, fx.Node) and arg.op == "get_attr" else None
        if not isinstance(sub, fx.GraphModule):
            continue
        for inner in sub.graph.nodes:
            if inner.op != "call_function":
                continue
            macs = _hop_macs(sub, inner) if isinstance(inner.target, torch._ops.HigherOrderOperator) else 0
            specs = [] if macs else gemms(inner, lambda _: False)
            if specs is None or getattr(inner.target, "overloadpacket", None) in flop_registry:
                macs = _macs_of(inner)
            elif specs:
                macs = sum(g.groups * g.m * g.n * g.k for g in specs)
            if macs < 0:
                return -1
            total += macs
    return total


def _macs_of(node: fx.Node) -> int:
    """MACs of an op that is not simulated: PyTorch's FLOP formula on the node's shapes, -1 if none."""
    if isinstance(node.target, torch._ops.HigherOrderOperator):
        return _hop_macs(node.graph.owning_module, node)
    packet = getattr(node.target, "overloadpacket", None)
    if packet in flop_registry:
        fake = fx.map_arg((node.args, node.kwargs), lambda a: a.meta.get("val"))
        try:
            return int(flop_registry[packet](*fake[0], **fake[1], out_val=node.meta.get("val"))) // 2
        except Exception:  # a formula that does not fit this overload: MACs unknown
            return -1
    shapes = [tuple(a.meta["val"].shape) for a in node.args if isinstance(a, fx.Node) and
              hasattr(a.meta.get("val"), "shape")]
    if packet in (torch.ops.aten.mv, torch.ops.aten.addmv, torch.ops.aten.outer, torch.ops.aten.ger):
        return math.prod(max(shapes, key=len)) if packet in (torch.ops.aten.mv, torch.ops.aten.addmv) \
            else math.prod(shapes[0]) * math.prod(shapes[1])
    if packet in (torch.ops.aten.dot, torch.ops.aten.vdot):
        return math.prod(shapes[0])
    if packet is torch.ops.aten.bilinear:  # x1 (..., in1), x2 (..., in2), weight (out, in1, in2)
        return math.prod(shapes[0][:-1]) * math.prod(shapes[2])
    return -1


def _coverage(gm, ops: list[_Op], missing: list[fx.Node], layers, state_fqn, state_key, ep,
              origin) -> Coverage:
    used = set()
    for op in ops:
        for spec in op.specs:
            if spec.weight is not None:
                used |= origin[operand(op.node, spec.weight)][0]
    not_ops = []
    for node in missing:
        stack = node.meta.get("nn_module_stack") or {}
        where = _unwrap(list(stack.values())[-1][0]) if stack else ""
        target = getattr(node.target, "__name__", str(node.target))
        why = ("a higher-order op (control flow / a wrapped region): its body is not simulated"
               if isinstance(node.target, torch._ops.HigherOrderOperator) else
               "accelsim has no GEMM view of this op")
        not_ops.append(NotSimulated(node.name, target, where, macs=_macs_of(node), why=why))
    params_sim, not_params, groups = 0, [], {}
    for placeholder, (fqn, is_param) in state_fqn.items():  # tied parameters (one tensor) count once
        if is_param:
            groups.setdefault(id(ep.state_dict[state_key[placeholder]]), []).append((placeholder, fqn))
    for members in groups.values():
        placeholder, fqn = members[0]
        numel = int(ep.state_dict[state_key[placeholder]].numel())
        if any(f in used for _, f in members):
            params_sim += numel
            continue
        nodes = [n for n in gm.graph.nodes if n.op == "placeholder" and n.name in {p for p, _ in members}]
        whys = [_why_param(n, ops, set(missing)) for n in nodes]
        why = next((w for w in whys if w != "not used by the forward pass"), whys[0])
        not_params.append(NotSimulated(fqn, "", _owner(fqn)[0], params=numel, why=why))
    return Coverage(macs_simulated=sum(layer.macs for layer in layers), params_simulated=params_sim,
                    ops_not_simulated=tuple(not_ops), params_not_simulated=tuple(not_params))


_NORMS = ("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "native_batch_norm",
          "_native_batch_norm_legit_no_training", "native_layer_norm")


def _why_param(node: fx.Node, ops: list[_Op], missing: set[fx.Node]) -> str:
    gemm_nodes = {op.node for op in ops}
    frontier, seen = [node], set()
    for _ in range(4):  # through views / dtype casts to the op that uses it
        nxt = []
        for n in frontier:
            for u in n.users:
                if u in seen:
                    continue
                seen.add(u)
                packet = str(getattr(u.target, "overloadpacket", u.target)).split(".")[-1]
                if u in missing:
                    return "used by an op that is not simulated"
                if u in gemm_nodes:
                    return "a bias (added, no MACs)"
                stack = u.meta.get("nn_module_stack") or {}
                module_type = list(stack.values())[-1][1] if stack else ""
                module_type = module_type if isinstance(module_type, str) else module_type.__name__
                if packet in _NORMS or "norm" in module_type.rpartition(".")[2].lower():
                    return "a norm's scale / shift (no MACs)"
                if packet in ("embedding", "embedding_bag"):
                    return "an embedding table (a lookup, no MACs)"
                if packet in ("view", "reshape", "t", "transpose", "permute", "expand", "to", "_to_copy",
                              "unsqueeze", "squeeze", "contiguous", "clone", "detach", "alias"):
                    nxt.append(u)
                    continue
                return f"used by {packet} (elementwise, no MACs)"
        frontier = nxt
    return "not used by the forward pass" if not node.users else "elementwise (no MACs)"
