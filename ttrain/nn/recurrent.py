"""Recurrent layers: `RNN` (tanh or relu), `LSTM`, `GRU`, their cells, and the `layers:`-list forms.

PyTorch's constructor arguments, parameter names and layouts, so state dicts move both ways:
`weight_ih_l{k}[_reverse]` of shape (gates * hidden_size, input), `weight_hh_l{k}[_reverse]` of
shape (gates * hidden_size, hidden_size), `bias_ih_l{k}`, `bias_hh_l{k}`; LSTM gates in the order
i, f, g, o; GRU gates r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

A layer runs each of its layers and directions as one fused op (`ttrain/autograd/ops/recurrent.py`):
the input projection of all time steps in one GEMM, then per step a BLAS GEMM for W_hh and one
Numba kernel for the rest of the step, and backward through time the same way, with the weight
gradients as single GEMMs over all steps. The cells keep the op-level step (`_step` below), which
also documents each recurrence's maths; the fused kernels are held to it by the parity tests.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ttrain.autograd.ops.recurrent import recurrence, slice_of_sequence
from ttrain.autograd.ops.shape import cat, stack
from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn import init
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter

State = Any  # a hidden-state tensor, or an LSTM's (h, c) pair


# ---- one time step of each cell, given the input projection W_ih x + b_ih already made ---------
def _rnn_tanh_step(x_proj: Tensor, state: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    h = (x_proj + F.linear(state, w_hh, b_hh)).tanh()
    return h, h


def _rnn_relu_step(x_proj: Tensor, state: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    h = (x_proj + F.linear(state, w_hh, b_hh)).relu()
    return h, h


def _lstm_step(x_proj: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor,
               b_hh: Tensor | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    h, c = state
    n = h.shape[-1]
    gates = x_proj + F.linear(h, w_hh, b_hh)
    i = gates[..., 0:n].sigmoid()
    f = gates[..., n:2 * n].sigmoid()
    g = gates[..., 2 * n:3 * n].tanh()
    o = gates[..., 3 * n:4 * n].sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    return h, (h, c)


def _gru_step(x_proj: Tensor, state: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    n_h = state.shape[-1]
    h_proj = F.linear(state, w_hh, b_hh)
    r = (x_proj[..., 0:n_h] + h_proj[..., 0:n_h]).sigmoid()
    z = (x_proj[..., n_h:2 * n_h] + h_proj[..., n_h:2 * n_h]).sigmoid()
    n = (x_proj[..., 2 * n_h:] + r * h_proj[..., 2 * n_h:]).tanh()
    h = n + z * (state - n)  # (1 - z) * n + z * h
    return h, h


def _check_sizes(owner: str, input_size: Any, hidden_size: Any) -> tuple[int, int]:
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(input_size), int(hidden_size)


def _reset_uniform(module: Module, hidden_size: int) -> None:
    """PyTorch's default for every recurrent weight and bias: U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for parameter in module.parameters():
        init.uniform_(parameter, -bound, bound)


# ---- the full layers -------------------------------------------------------------------------
class RNNBase(Module):
    """The shared body of `RNN`, `LSTM` and `GRU`: parameters, initial states, the loop over layers
    and directions, dropout between layers. Subclasses set `gates`, `has_cell` and `kernel_kind`.

    forward(input, hx=None) -> (output, h_n), or (output, (h_n, c_n)) for an LSTM. `input` is
    (T, B, I), (B, T, I) with `batch_first`, or (T, I) unbatched; `output` is (T, B, D * H) in the
    same layout, with D = 2 when bidirectional, the two directions concatenated on the last axis;
    h_n (and c_n) are (num_layers * D, B, H), the reverse direction after the forward one per layer.
    """

    gates: ClassVar[int] = 1
    has_cell: ClassVar[bool] = False
    kernel_kind: str  # which fused recurrence of `ops/recurrent.py` runs the layer
    inferred_args = {"input_size": "last"}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size, self.hidden_size = _check_sizes(name, input_size, hidden_size)
        if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a number between 0 and 1, got {dropout!r}")
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        directions = 2 if self.bidirectional else 1
        rows = self.gates * self.hidden_size
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * directions
            for suffix in self._suffixes(layer):
                self.register_parameter(f"weight_ih{suffix}", Parameter(np.empty((rows, layer_input), dtype=dtype)))
                self.register_parameter(f"weight_hh{suffix}",
                                        Parameter(np.empty((rows, self.hidden_size), dtype=dtype)))
                if self.bias:
                    self.register_parameter(f"bias_ih{suffix}", Parameter(np.empty(rows, dtype=dtype)))
                    self.register_parameter(f"bias_hh{suffix}", Parameter(np.empty(rows, dtype=dtype)))
        self.reset_parameters()

    def _suffixes(self, layer: int) -> tuple[str, ...]:
        return (f"_l{layer}", f"_l{layer}_reverse") if self.bidirectional else (f"_l{layer}",)

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self, self.hidden_size)

    def _initial_states(self, hx: Any, batch: int, dtype: np.dtype) -> list[Any]:
        """One initial state per (layer, direction), in h_n's order; zeros where `hx` is None."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        expected = (count, batch, self.hidden_size)
        parts = (hx if self.has_cell else (hx,)) if hx is not None else None
        if parts is not None and (not isinstance(parts, tuple) or len(parts) != (2 if self.has_cell else 1)):
            raise ValueError(f"{type(self).__name__}: hx must be "
                             f"{'a tuple (h_0, c_0)' if self.has_cell else 'one tensor h_0'}")
        checked = []
        for part in parts or ():
            if tuple(part.shape) != expected:
                raise ValueError(f"{type(self).__name__}: expected initial state of shape {expected}, "
                                 f"got {tuple(part.shape)}")
            checked.append(part)
        if not checked:
            zeros = Tensor(np.zeros((batch, self.hidden_size), dtype=dtype))
            return [(zeros, zeros) if self.has_cell else zeros for _ in range(count)]
        if self.has_cell:
            return [(checked[0][k], checked[1][k]) for k in range(count)]
        return [checked[0][k] for k in range(count)]

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """(output, h_n), or (output, (h_n, c_n)) for an LSTM; see the class docstring for shapes."""
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected a 2-D (unbatched) or 3-D input, got shape "
                             f"{tuple(input.shape)}")
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = tuple(part.unsqueeze(1) for part in hx) if self.has_cell else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input_size {self.input_size}, got {input.shape[-1]}")
        steps, batch = input.shape[0], input.shape[1]
        if steps == 0:
            raise ValueError(f"{type(self).__name__}: the input sequence is empty (0 time steps)")
        states = self._initial_states(hx, batch, input.dtype)
        finals = []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                index = layer * (2 if self.bidirectional else 1) + direction
                sequence, final = self._run_direction(layer_input, states[index], suffix, reverse=direction == 1)
                outputs.append(sequence)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)
            if self.dropout and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
        output = layer_input
        if self.has_cell:
            h_n = stack([h for h, _ in finals])
            c_n = stack([c for _, c in finals])
            if unbatched:
                h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
            state_out: Any = (h_n, c_n)
        else:
            state_out = stack(finals)
            if unbatched:
                state_out = state_out.squeeze(1)
        if unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, state_out

    def _run_direction(self, input: Tensor, state: State, suffix: str, reverse: bool) -> tuple[Tensor, State]:
        """One layer in one direction over (T, B, I), as one fused op (`ops/recurrent.py`).
        Returns (T, B, H) in time order and the final state."""
        steps = input.shape[0]
        h0, c0 = state if self.has_cell else (state, None)
        w_ih, w_hh = getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}")
        b_ih = getattr(self, f"bias_ih{suffix}") if self.bias else None
        b_hh = getattr(self, f"bias_hh{suffix}") if self.bias else None
        packed = recurrence(self.kernel_kind, input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
        h_n = packed[0 if reverse else steps - 1]
        if self.has_cell:
            return slice_of_sequence(packed, slice(0, steps)), (h_n, packed[steps])
        return packed, h_n

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


# ---- the three recurrences, each shared by its layer and its cell ------------------------------
class _ElmanRecurrence:
    """h' = nonlinearity(W_ih x + b_ih + W_hh h + b_hh), tanh or relu (for `RNN` and `RNNCell`)."""

    nonlinearity: str = "tanh"

    @property
    def kernel_kind(self) -> str:
        """The fused recurrence the layer runs on (`ops/recurrent.py`)."""
        return f"rnn_{self.nonlinearity}"

    @staticmethod
    def _check_nonlinearity(owner: str, nonlinearity: str) -> str:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{owner}: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        return nonlinearity

    def _step(self, x_proj: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, State]:
        step = _rnn_tanh_step if self.nonlinearity == "tanh" else _rnn_relu_step
        return step(x_proj, state, w_hh, b_hh)

    def extra_repr(self) -> str:
        text = super().extra_repr()  # type: ignore[misc]
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity='relu'"


class _LSTMRecurrence:
    """Gates i, f, g, o, with a cell state beside h (for `LSTM` and `LSTMCell`)."""

    gates = 4
    has_cell = True
    kernel_kind = "lstm"

    def _step(self, x_proj: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, State]:
        return _lstm_step(x_proj, state, w_hh, b_hh)


class _GRURecurrence:
    """Gates r, z, n with PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) (for `GRU` and `GRUCell`)."""

    gates = 3
    kernel_kind = "gru"

    def _step(self, x_proj: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, State]:
        return _gru_step(x_proj, state, w_hh, b_hh)


class RNN(_ElmanRecurrence, RNNBase):
    """Elman RNN: h_t = nonlinearity(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), with tanh or relu."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        nonlinearity = self._check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity


class LSTM(_LSTMRecurrence, RNNBase):
    """Long short-term memory, gates i, f, g, o; forward returns (output, (h_n, c_n))."""


class GRU(_GRURecurrence, RNNBase):
    """Gated recurrent unit, gates r, z, n, with PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""


# ---- cells: one time step --------------------------------------------------------------------
class RNNCellBase(Module):
    """The shared body of `RNNCell`, `LSTMCell` and `GRUCell`: `weight_ih` (gates * H, I),
    `weight_hh` (gates * H, H), `bias_ih`, `bias_hh`. forward(input, hx=None) takes (B, I) or (I,)
    and returns the next h (for an LSTM the pair (h, c)); a missing hx is zeros."""

    gates: ClassVar[int] = 1
    has_cell: ClassVar[bool] = False
    inferred_args = {"input_size": "last"}

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size = _check_sizes(type(self).__name__, input_size, hidden_size)
        self.bias = bool(bias)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        rows = self.gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=dtype))
            self.bias_hh = Parameter(np.empty(rows, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self, self.hidden_size)

    def _step(self, x_proj: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, State]:
        raise NotImplementedError

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        """The next hidden state (h, or (h, c) for an LSTM cell)."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input of shape (B, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
            if hx is not None:
                hx = tuple(part.unsqueeze(0) for part in hx) if self.has_cell else hx.unsqueeze(0)
        if hx is None:
            zeros = Tensor(np.zeros((input.shape[0], self.hidden_size), dtype=input.dtype))
            hx = (zeros, zeros) if self.has_cell else zeros
        _, state = self._step(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        if unbatched:
            state = tuple(part.squeeze(0) for part in state) if self.has_cell else state.squeeze(0)
        return state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_ElmanRecurrence, RNNCellBase):
    """One step of `RNN`: h' = nonlinearity(W_ih x + b_ih + W_hh h + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = None) -> None:
        nonlinearity = self._check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(_LSTMRecurrence, RNNCellBase):
    """One step of `LSTM`: (h, c) -> (h', c')."""


class GRUCell(_GRURecurrence, RNNCellBase):
    """One step of `GRU`: h -> h'."""


# ---- the forms a config's `layers:` list builds ----------------------------------------------
class _OutputSequenceOnly:
    """A recurrent layer of a `layers:` list: batch-first, and returns only the output sequence."""

    def forward(self, input: Tensor, hx: Any = None) -> Tensor:
        """The output sequence (B, T, D * H); the final states are dropped."""
        return super().forward(input, hx)[0]  # type: ignore[misc]


class RNNLayer(_OutputSequenceOnly, RNN):
    """`RNN` for a `layers:` list (registered as `rnn`): batch-first, output sequence only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers, nonlinearity, bias, True, dropout, bidirectional)


class LSTMLayer(_OutputSequenceOnly, LSTM):
    """`LSTM` for a `layers:` list (registered as `lstm`): batch-first, output sequence only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, True, dropout, bidirectional)


class GRULayer(_OutputSequenceOnly, GRU):
    """`GRU` for a `layers:` list (registered as `gru`): batch-first, output sequence only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, True, dropout, bidirectional)


class SequenceOutput(Module):
    """Pick what a batch-first sequence (B, T, F) passes on: the last step (B, F), the first (a
    ViT's class token), the mean over time (B, F), or all steps unchanged (registered as
    `sequence_output`).

    "last" is output[:, -1]; for a bidirectional layer the reverse half of that step has seen only
    the last input, as in PyTorch's output (h_n holds the reverse direction's full summary)."""

    modes: ClassVar[tuple[str, ...]] = ("last", "first", "mean", "all")

    def __init__(self, mode: str = "last") -> None:
        super().__init__()
        if mode not in self.modes:
            raise ValueError(f"SequenceOutput: mode must be one of {', '.join(self.modes)}, got {mode!r}")
        self.mode = mode

    def forward(self, input: Tensor) -> Tensor:
        """The chosen steps of a (B, T, F) input."""
        if input.ndim != 3:
            raise ValueError(f"SequenceOutput: expected a (batch, time, features) input, got shape "
                             f"{tuple(input.shape)}")
        if self.mode in ("last", "first"):
            return slice_of_sequence(input, (slice(None), -1 if self.mode == "last" else 0))
        return input.mean(dim=1) if self.mode == "mean" else input

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
