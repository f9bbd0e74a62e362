"""A model chain as an ONNX graph, built node by node with `onnx.helper`.

Each layer class maps to a function that appends its nodes: Linear to Gemm (MatMul + Add past
two dimensions), convolutions and pooling to Conv/ConvTranspose/MaxPool/AveragePool, BatchNorm to
BatchNormalization with the running statistics (the graph is the model in evaluation mode, so
Dropout is an Identity), activations to their ONNX operators or a few primitive ones (GELU is
0.5 x (1 + erf(x / sqrt 2))). Shapes are traced through ttrain first, so pooling windows,
flattening and adaptive pooling get static sizes; the batch dimension stays free.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ttrain import nn
from ttrain.interop.chain import InteropError, Link

OPSET = 17  # the first with LayerNormalization (ONNX 1.12)
IR_VERSION = 8  # the IR version of ONNX 1.12, so runtimes older than this onnx package read the file


class _Graph:
    """The nodes and initializers of the graph being built, with unique value names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def node(self, op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        """Append `op` and return the name of its one output."""
        from onnx import helper

        output = self.fresh(name)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def tensor(self, name: str, array: np.ndarray) -> str:
        """Add `array` as an initializer (float arrays as float32) and return its name."""
        from onnx import numpy_helper

        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def constant(self, value: Any, dtype: Any = np.float32) -> str:
        return self.tensor(self.fresh("const"), np.asarray(value, dtype=dtype))


# A layer's converter: (graph, link, input value, input shape, output shape) -> output value.
Converter = Callable[[_Graph, Link, str, tuple, tuple], str]


def _pair(value: Any, n: int) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [int(value)] * n


def _weights(graph: _Graph, link: Link, *names: str) -> list[str]:
    """The link's tensors `names` as initializers under the ttrain state-dict names."""
    tensors = link.tensors()
    return [graph.tensor(f"{link.prefix}.{name}", tensors[name]) for name in names]


def _has(link: Link, name: str) -> bool:
    return getattr(link.layer, name, None) is not None


def _operator(op: str, **attributes: Callable[[Any], Any]) -> Converter:
    """A layer that is one ONNX operator on its input, with attributes read from the layer."""
    def convert(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
        return graph.node(op, [x], link.prefix, **{k: read(link.layer) for k, read in attributes.items()})
    return convert


def _linear(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    weight, *bias = _weights(graph, link, "weight", *(["bias"] if _has(link, "bias") else []))
    if len(shape_in) == 2:
        return graph.node("Gemm", [x, weight, *bias], link.prefix, transB=1)
    y = graph.node("MatMul", [x, graph.node("Transpose", [weight], link.prefix, perm=[1, 0])], link.prefix)
    return graph.node("Add", [y, *bias], link.prefix) if bias else y


def _padding(layer: Any, dims: int) -> list[int]:
    """ONNX pads (all begins, then all ends) for a conv's int, tuple, 'valid' or 'same' padding."""
    if layer.padding == "valid":
        return [0] * 2 * dims
    if layer.padding == "same":  # PyTorch puts the odd pixel at the end
        totals = [d * (k - 1) for d, k in zip(_pair(layer.dilation, dims), _pair(layer.kernel_size, dims))]
        return [t // 2 for t in totals] + [t - t // 2 for t in totals]
    return _pair(layer.padding, dims) * 2


def _conv(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    layer, dims = link.layer, len(shape_in) - 2
    inputs = _weights(graph, link, "weight", *(["bias"] if _has(link, "bias") else []))
    attributes = dict(kernel_shape=_pair(layer.kernel_size, dims), strides=_pair(layer.stride, dims),
                      dilations=_pair(layer.dilation, dims), group=layer.groups, pads=_padding(layer, dims))
    if isinstance(layer, nn.ConvTranspose2d):
        return graph.node("ConvTranspose", [x, *inputs], link.prefix,
                          output_padding=_pair(layer.output_padding, dims), **attributes)
    return graph.node("Conv", [x, *inputs], link.prefix, **attributes)


def _pool(op: str) -> Converter:
    def convert(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
        layer, dims = link.layer, len(shape_in) - 2
        kernel = _pair(layer.kernel_size, dims)
        attributes = dict(kernel_shape=kernel, strides=_pair(layer.stride or layer.kernel_size, dims),
                          pads=_pair(layer.padding, dims) * 2)
        if op == "MaxPool":
            attributes.update(dilations=_pair(layer.dilation, dims), ceil_mode=int(getattr(layer, "ceil_mode", False)))
        else:
            attributes.update(count_include_pad=int(layer.count_include_pad))
        return graph.node(op, [x], link.prefix, **attributes)
    return convert


def _adaptive_pool(op: str) -> Converter:
    """Adaptive pooling whose windows are all alike: the input divides into the output."""
    def convert(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
        size_in, size_out = shape_in[-2:], shape_out[-2:]
        if tuple(size_out) == (1, 1):
            return graph.node(f"Global{op}", [x], link.prefix)
        if any(i % o for i, o in zip(size_in, size_out)):
            raise InteropError(f"{link.prefix} ({link.kind}): windows of unequal sizes ({size_in[0]}x{size_in[1]} "
                              f"pooled to {size_out[0]}x{size_out[1]}) have no ONNX operator")
        window = [i // o for i, o in zip(size_in, size_out)]
        return graph.node(op, [x], link.prefix, kernel_shape=window, strides=window)
    return convert


def _batch_norm(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    layer = link.layer
    if layer.running_mean is None:
        raise InteropError(f"{link.prefix} ({link.kind}): without running statistics (track_running_stats=False) "
                          "it normalises with each batch's, which an inference graph cannot")
    channels = layer.num_features
    scale = _weights(graph, link, "weight")[0] if _has(link, "weight") else graph.constant(np.ones(channels))
    shift = _weights(graph, link, "bias")[0] if _has(link, "bias") else graph.constant(np.zeros(channels))
    mean, var = _weights(graph, link, "running_mean", "running_var")
    return graph.node("BatchNormalization", [x, scale, shift, mean, var], link.prefix, epsilon=float(layer.eps))


def _layer_norm(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    layer = link.layer
    ones = np.ones(layer.normalized_shape)
    scale = _weights(graph, link, "weight")[0] if _has(link, "weight") else graph.constant(ones)
    shift = _weights(graph, link, "bias") if _has(link, "bias") else []
    return graph.node("LayerNormalization", [x, scale, *shift], link.prefix,
                      axis=-len(layer.normalized_shape), epsilon=float(layer.eps))


def _reshape(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    """Flatten and Unflatten: a Reshape to the traced shape, the batch dimension copied (0)."""
    start = getattr(link.layer, "start_dim", getattr(link.layer, "dim", 1))
    if start % len(shape_in) == 0:
        raise InteropError(f"{link.prefix} ({link.kind}): reshaping the batch dimension (dim 0) is not exported")
    if isinstance(link.layer, nn.Flatten) and len(shape_out) == 2:
        return graph.node("Flatten", [x], link.prefix, axis=1)
    return graph.node("Reshape", [x, graph.constant([0, *shape_out[1:]], np.int64)], link.prefix)


def _mul(graph: _Graph, link: Link, x: str, y: str) -> str:
    return graph.node("Mul", [x, y], link.prefix)


def _silu(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    return _mul(graph, link, x, graph.node("Sigmoid", [x], link.prefix))


def _mish(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    return _mul(graph, link, x, graph.node("Tanh", [graph.node("Softplus", [x], link.prefix)], link.prefix))


def _softplus(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    # log(1 + exp(beta x)) / beta; PyTorch's switch to x past `threshold` changes it by < 2e-9.
    beta = float(link.layer.beta)
    if beta == 1.0:
        return graph.node("Softplus", [x], link.prefix)
    scaled = graph.node("Softplus", [_mul(graph, link, x, graph.constant(beta))], link.prefix)
    return graph.node("Div", [scaled, graph.constant(beta)], link.prefix)


def _gelu(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    # The exact form 0.5 x (1 + erf(x / sqrt 2)), or the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    if link.layer.approximate == "tanh":
        cube = _mul(graph, link, _mul(graph, link, x, x), x)
        inner = graph.node("Add", [x, _mul(graph, link, cube, graph.constant(0.044715))], link.prefix)
        curve = graph.node("Tanh", [_mul(graph, link, inner, graph.constant(math.sqrt(2 / math.pi)))], link.prefix)
    else:
        curve = graph.node("Erf", [_mul(graph, link, x, graph.constant(1 / math.sqrt(2)))], link.prefix)
    half = _mul(graph, link, x, graph.constant(0.5))
    return _mul(graph, link, half, graph.node("Add", [curve, graph.constant(1.0)], link.prefix))


def _hardtanh(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    low, high = graph.constant(link.layer.min_val), graph.constant(link.layer.max_val)
    return graph.node("Clip", [x, low, high], link.prefix)


def _identity(graph: _Graph, link: Link, x: str, shape_in: tuple, shape_out: tuple) -> str:
    return graph.node("Identity", [x], link.prefix)


ONNX_CONVERTERS: dict[type, Converter] = {
    nn.Linear: _linear,
    nn.Conv1d: _conv, nn.Conv2d: _conv, nn.ConvTranspose2d: _conv,
    nn.MaxPool1d: _pool("MaxPool"), nn.MaxPool2d: _pool("MaxPool"), nn.AvgPool2d: _pool("AveragePool"),
    nn.AdaptiveAvgPool2d: _adaptive_pool("AveragePool"), nn.AdaptiveMaxPool2d: _adaptive_pool("MaxPool"),
    nn.BatchNorm1d: _batch_norm, nn.BatchNorm2d: _batch_norm, nn.LayerNorm: _layer_norm,
    nn.Flatten: _reshape, nn.Unflatten: _reshape,
    nn.Dropout: _identity, nn.Dropout2d: _identity, nn.Identity: _identity,  # evaluation mode
    nn.ReLU: _operator("Relu"), nn.Sigmoid: _operator("Sigmoid"), nn.Tanh: _operator("Tanh"),
    nn.SELU: _operator("Selu"),  # ONNX's default alpha and gamma are PyTorch's constants
    nn.LeakyReLU: _operator("LeakyRelu", alpha=lambda layer: float(layer.negative_slope)),
    nn.ELU: _operator("Elu", alpha=lambda layer: float(layer.alpha)),
    nn.Softmax: _operator("Softmax", axis=lambda layer: int(layer.dim)),
    nn.LogSoftmax: _operator("LogSoftmax", axis=lambda layer: int(layer.dim)),
    nn.SiLU: _silu, nn.Mish: _mish, nn.Softplus: _softplus, nn.GELU: _gelu, nn.Hardtanh: _hardtanh,
}


def check_onnx_chain(links: list[Link]) -> None:
    """InteropError naming the first layer that has no ONNX mapping."""
    for index, link in enumerate(links):
        if type(link.layer) not in ONNX_CONVERTERS or getattr(link.layer, "return_indices", False):
            raise InteropError(f"{link.describe(index)} has no ONNX mapping; export maps "
                              f"{', '.join(sorted(c.__name__ for c in ONNX_CONVERTERS))}")


def onnx_model(links: list[Link], shapes: list[tuple[int, ...]], properties: dict[str, str] | None = None) -> Any:
    """The checked `onnx.ModelProto` of the chain: input `input` (batch, *sample shape) float32,
    output `output`; `shapes` from `trace_shapes`; `properties` go into its metadata."""
    import onnx
    from onnx import TensorProto, helper

    from ttrain import __version__

    check_onnx_chain(links)
    graph = _Graph()
    value = "input"
    for link, shape_in, shape_out in zip(links, shapes, shapes[1:]):
        value = ONNX_CONVERTERS[type(link.layer)](graph, link, value, shape_in, shape_out)
    graph.nodes.append(helper.make_node("Identity", [value], ["output"], name="output"))
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *shapes[0][1:]])]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", *shapes[-1][1:]])]
    proto = helper.make_model(
        helper.make_graph(graph.nodes, "ttrain", inputs, outputs, graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ttrain", producer_version=str(__version__),
        ir_version=IR_VERSION,
    )
    helper.set_model_props(proto, properties or {})
    onnx.checker.check_model(proto, full_check=True)
    return proto
