"""`summarize(model, example)`: a model's layers in the order they run, each with its output shape,
parameter count and FLOPs per sample where known, as Keras's `model.summary()` shows them.

Shapes come from one forward pass on `example` (one sample, in eval mode, without a graph). Each
module's `forward` is wrapped for that pass only, on the instance: `Module.__call__` stays free of
hook machinery, so training pays nothing for this.

FLOPs count a multiply-add as two, for the layers whose cost is a product with their weights
(`Linear`, convolutions, transposed convolutions, recurrent layers); the others (activations,
pooling, normalisation) are cheap beside them and shown as unknown, not as zero.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ttrain.nn.module import Module


@dataclass
class LayerRow:
    """One module of the summary: `name` is its dotted path in the model (`features.0`)."""

    name: str
    kind: str
    output_shape: list[Any] | None = None  # per output tensor, the batch axis as None; None if it never ran
    parameters: int = 0  # its own, not its children's
    trainable: int = 0
    flops: int | None = None  # per sample, summed over its calls; None: not known for this kind of layer


@dataclass
class ModelSummary:
    """What `summarize` found: the rows, the totals and the input it was measured with."""

    model: str
    input_shape: list[int]
    layers: list[LayerRow] = field(default_factory=list)
    total_parameters: int = 0
    trainable_parameters: int = 0
    parameter_bytes: int = 0

    @property
    def flops(self) -> int | None:
        """FLOPs per sample of the layers that know theirs (None if none does)."""
        known = [row.flops for row in self.layers if row.flops is not None]
        return sum(known) if known else None

    def to_json(self) -> dict[str, Any]:
        """Plain data: `--json`'s fields."""
        return {
            "model": self.model,
            "input_shape": self.input_shape,
            "layers": [vars(row) for row in self.layers],
            "parameters": {"total": self.total_parameters, "trainable": self.trainable_parameters,
                           "non_trainable": self.total_parameters - self.trainable_parameters,
                           "bytes": self.parameter_bytes},
            "flops_per_sample": self.flops,
        }


def summarize(model: Module, example: Any) -> ModelSummary:
    """Run `model` once on `example` (a batch of one sample) and describe each module that ran or
    holds parameters: containers without parameters of their own are left out, as their children show."""
    from ttrain.autograd.grad_mode import no_grad

    rows: dict[str, LayerRow] = {}
    order: list[str] = []
    names = {id(module): name for name, module in model.named_modules()}
    was_training = model.training
    model.eval()
    try:
        with _recording(model, names, rows, order), no_grad():
            model(example)
    finally:
        model.train(was_training)
    summary = ModelSummary(type(model).__name__, list(getattr(example, "shape", ()))[1:])
    for name, module in model.named_modules():
        own = [p for _, p in module.named_parameters(recurse=False)]
        row = rows.setdefault(name, LayerRow(name, type(module).__name__))
        row.parameters = sum(int(p.data.size) for p in own)
        row.trainable = sum(int(p.data.size) for p in own if p.requires_grad)
        summary.total_parameters += row.parameters
        summary.trainable_parameters += row.trainable
        summary.parameter_bytes += sum(int(p.data.nbytes) for p in own)
        if row.parameters and name not in order:
            order.append(name)  # holds parameters but never ran (an unused head): still counted
    # A container shows through its children, unless it holds parameters of its own.
    summary.layers = [rows[name] for name in order
                      if name and (rows[name].parameters or not any(True for _ in model.get_submodule(name).children()))]
    return summary


@contextlib.contextmanager
def _recording(model: Module, names: dict[int, str], rows: dict[str, LayerRow], order: list[str]) -> Iterator[None]:
    """Wrap every module's `forward` (on the instance, for the block only) to record each call."""
    wrapped = []
    for module in model.modules():
        if module is model or "forward" in vars(module):
            continue
        vars(module)["forward"] = _recorder(module, names[id(module)], rows, order)
        wrapped.append(module)
    try:
        yield
    finally:
        for module in wrapped:
            del vars(module)["forward"]


def _recorder(module: Module, name: str, rows: dict[str, LayerRow], order: list[str]) -> Callable[..., Any]:
    forward = type(module).forward.__get__(module)

    def record(*args: Any, **kwargs: Any) -> Any:
        if name not in rows:
            rows[name] = LayerRow(name, type(module).__name__)
            order.append(name)  # in the order the modules are entered
        output = forward(*args, **kwargs)
        row = rows[name]
        row.output_shape = _shapes(output)
        flops = layer_flops(module, args[0] if args else None, output)
        if flops is not None:
            row.flops = (row.flops or 0) + flops
        return output

    return record


def _shapes(output: Any) -> list[Any]:
    """Each tensor's shape in `output` (nested tuples flattened), the batch axis as None."""
    if isinstance(output, (tuple, list)):
        return [shape for item in output for shape in _shapes(item)]
    shape = getattr(output, "shape", None)
    return [[None, *(int(n) for n in shape[1:])]] if shape is not None and len(shape) else []


def layer_flops(module: Module, inputs: Any, output: Any) -> int | None:
    """FLOPs of one call on one sample (a multiply-add is two), for the layers whose cost is a
    product with their weights; None for the others."""
    from ttrain.nn.conv import _ConvNd
    from ttrain.nn.linear import Linear
    from ttrain.nn.recurrent import RNNBase, RNNCellBase

    first = output[0] if isinstance(output, (tuple, list)) else output
    if isinstance(module, Linear):
        rows = math.prod(first.shape[1:-1])  # a Linear applied along a sequence: once per position
        return rows * (2 * module.in_features * module.out_features + (module.out_features if module.bias is not None else 0))
    if isinstance(module, _ConvNd):
        # Every output position (every input position, transposed) takes one multiply-add per
        # weight of a filter slice: the weight's size in all, times the positions.
        positions = math.prod(inputs.shape[2:] if module._transposed else first.shape[2:])
        bias = math.prod(first.shape[1:]) if module.bias is not None else 0
        return 2 * int(module.weight.data.size) * positions + bias
    if isinstance(module, (RNNBase, RNNCellBase)):
        weights = sum(int(p.data.size) for name, p in module.named_parameters() if name.startswith("weight"))
        steps = 1 if isinstance(module, RNNCellBase) else (
            inputs.shape[1] if getattr(module, "batch_first", False) else inputs.shape[0])
        return 2 * weights * int(steps)
    return None
