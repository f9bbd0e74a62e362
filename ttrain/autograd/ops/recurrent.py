"""A whole recurrence (one layer, one direction of an LSTM, GRU or Elman RNN) as one op.

Composed from primitives, every time step of a recurrence added a dozen graph nodes, and every
step's slice of the input projection a full-size zero gradient in backward, so an LSTM(28, 128)
step over 28 steps took 57-96 ms against PyTorch's ~14 ms. Here:
- forward projects the input of all steps in one call, (T, B, I) @ W_ih^T, each kernel thread
  for its own batch rows (T GEMMs with a contiguous W_ih^T ran faster than one (T * B, I) GEMM
  reading the transposed W_ih: 0.50 against 0.68 ms), then runs the steps: per step one BLAS GEMM
  h_prev @ W_hh^T and one fused Numba step
  (`kernels/recurrent.py`: both biases, activations, cell update), keeping what backward needs;
- backward runs the steps in reverse: one fused step for every gate derivative, one GEMM
  dgates @ W_hh for the gradient reaching h_prev; then the input gradient and the weight and bias
  gradients are single GEMMs and sums over all steps.
The weight- and input-gradient GEMMs over all steps go through `ttrain.autograd.parallel`: once
the step loop has run on the kernel threads, BLAS is held to one thread, and these GEMMs (over a
quarter of an LSTM(28, 128) training step on one thread) would otherwise stay on one core while
the other idles.
The per-step loop is Python holding one GEMM and one kernel call each (a few microseconds of the
step's ~100); no graph is built inside it. For the LSTM, where NumPy's BLAS can be called from
Numba, each kernel thread instead runs all the steps of its rows in one nogil call
(`LSTMSteps.forward_rows`): with the Python loop on 2 threads, each step's GIL hand-over between
the threads cost tens of microseconds, and the 2-thread loop gained 1.4x instead of 1.8x.

The op returns one array: the outputs h_t of every step in time order, (T, B, H), and for an LSTM
one more row, the final cell state c_T; the final h is the output row of the last step processed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd import parallel
from ttrain.autograd.function import Function
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor
from ttrain.autograd.workspace import Workspace

_SCRATCH = Workspace()  # every array below but the returned gradients: see workspace.py for why


class Recurrence(Function):
    """Positional inputs: x (T, B, I), h0 (B, H), c0 (B, H) or None, w_ih (G * H, I), w_hh (G * H, H),
    b_ih and b_hh (G * H,) or None. `steps` is a step class of `kernels/recurrent.py` (or its
    NumPy reference); `reverse` runs from the last time step to the first."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, *, steps: Any, reverse: bool = False):
        steps_, batch, _ = x.shape
        rows, hidden = w_hh.shape
        dtype = np.result_type(x, w_ih)
        projected = _SCRATCH.empty((steps_, batch, rows), dtype)
        w_ih_t, w_hh_t = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T, dtype=dtype)
        no_bias = np.zeros(rows, dtype=dtype)
        b_ih, b_hh = no_bias if b_ih is None else b_ih, no_bias if b_hh is None else b_hh
        out = _SCRATCH.empty((steps_ + steps.has_cell, batch, hidden), dtype)
        ys = out[:steps_]
        acts = _SCRATCH.empty((steps_, batch, steps.saved * hidden), dtype)
        cs = _SCRATCH.empty((steps_, batch, hidden), dtype) if steps.has_cell else None
        h0 = np.ascontiguousarray(h0, dtype=dtype)
        c0 = None if c0 is None else np.ascontiguousarray(c0, dtype=dtype)
        order = _order(steps_, reverse)
        gemm = _rows_gemm(steps, dtype)

        def run_rows(start: int, stop: int) -> None:  # the recurrence of batch rows [start, stop)
            rows_ = slice(start, stop)
            hp = np.empty((stop - start, rows), dtype=dtype)
            h_prev, c_prev = h0[rows_], None if c0 is None else c0[rows_]
            np.matmul(x[:, rows_], w_ih_t, out=projected[:, rows_])  # T GEMMs in one call, GIL released
            if gemm:
                steps.forward_rows(gemm, projected, w_hh_t, b_ih, b_hh, h0, c0, acts, ys, cs, hp, start, stop, reverse)
                return
            for t in order:
                np.matmul(h_prev, w_hh_t, out=hp)
                c_t = cs[t, rows_] if cs is not None else None
                steps.forward(projected[t, rows_], hp, b_ih, b_hh, h_prev, c_prev, acts[t, rows_], ys[t, rows_], c_t)
                h_prev, c_prev = ys[t, rows_], c_t

        _over_batch_rows(batch, run_rows)
        if cs is not None:
            out[steps_] = cs[order[-1]]
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, acts, ys, cs)  # h0, c0: the contiguous copies
        ctx.steps, ctx.reverse = steps, reverse
        return out

    @staticmethod
    def backward(ctx, grad):
        x, h0, c0, w_ih, w_hh, acts, ys, cs = ctx.saved_tensors
        steps, reverse = ctx.steps, ctx.reverse
        steps_, batch, hidden = ys.shape
        rows = w_hh.shape[0]
        grad = np.ascontiguousarray(grad, dtype=ys.dtype)
        dys = grad[:steps_]
        dc = grad[steps_].copy() if steps.has_cell else None
        dgx = _SCRATCH.empty((steps_, batch, rows), ys.dtype)
        dgh = _SCRATCH.empty((steps_, batch, rows), ys.dtype) if steps.hidden_path_apart else dgx
        dh = np.zeros((batch, hidden), dtype=ys.dtype)  # returned as h0's gradient: not scratch
        order = _order(steps_, reverse)
        first = order[0]
        gemm = _rows_gemm(steps, ys.dtype)
        w_hh_rows = np.ascontiguousarray(w_hh, dtype=ys.dtype) if gemm else w_hh

        def run_rows(start: int, stop: int) -> None:  # back through time for batch rows [start, stop)
            if gemm:
                steps.backward_rows(gemm, acts, c0, cs, dys, w_hh_rows, dh, dc, dgx, start, stop, reverse)
                return
            rows_ = slice(start, stop)
            dh_rows, dc_rows = dh[rows_], None if dc is None else dc[rows_]
            through_w_hh = np.empty_like(dh_rows) if steps.hidden_path_apart else dh_rows
            for t in reversed(order):
                before = t + 1 if reverse else t - 1
                h_prev = h0[rows_] if t == first else ys[before, rows_]
                c_prev = (c0[rows_] if t == first else cs[before, rows_]) if cs is not None else None
                steps.backward(acts[t, rows_], h_prev, c_prev, ys[t, rows_], dys[t, rows_], dh_rows, dc_rows,
                               dgx[t, rows_], dgh[t, rows_])
                np.matmul(dgh[t, rows_], w_hh, out=through_w_hh)
                if steps.hidden_path_apart:
                    dh_rows += through_w_hh

        _over_batch_rows(batch, run_rows)
        needs = ctx.needs_input_grad
        flat_x, flat_gx, flat_gh = x.reshape(steps_ * batch, -1), dgx.reshape(-1, rows), dgh.reshape(-1, rows)
        dx = parallel.matmul(flat_gx, w_ih).reshape(x.shape) if needs[0] else None
        dw_ih = parallel.matmul(flat_gx.T, flat_x) if needs[3] else None
        dw_hh = None
        if needs[4]:
            previous = _SCRATCH.empty(ys.shape, ys.dtype)  # h_prev of every step, in time order
            if reverse:
                previous[:-1], previous[-1] = ys[1:], h0
            else:
                previous[1:], previous[0] = ys[:-1], h0
            dw_hh = parallel.matmul(flat_gh.T, previous.reshape(-1, hidden))
        db_ih = flat_gx.sum(axis=0) if needs[5] else None
        if needs[6]:
            db_hh = flat_gh.sum(axis=0) if steps.hidden_path_apart or db_ih is None else db_ih.copy()
        else:
            db_hh = None
        return dx, dh if needs[1] else None, dc if needs[2] else None, dw_ih, dw_hh, db_ih, db_hh


class SliceOfSequence(Function):
    """x[key] for a key of ints and slices, as `Tensor.__getitem__` does, with a cheaper backward for
    the large sequence tensors of a recurrent model: the zero-padded gradient goes into a reused
    scratch array instead of a fresh `np.zeros`, whose pages are faulted in anew on every call
    (~0.45 ms per slice of the 1 MB LSTM(28, 128) output in a 14 ms training step)."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.key, ctx.shape = key, x.shape
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        out = _SCRATCH.empty(ctx.shape, grad.dtype)
        out.fill(0)
        out[ctx.key] = grad
        return out, None


def slice_of_sequence(x: Tensor, key: Any) -> Tensor:
    """x[key] (ints and slices only) through `SliceOfSequence`."""
    return SliceOfSequence.apply(x, key)


def _over_batch_rows(batch: int, run_rows: Any) -> None:
    """run_rows(start, stop) over the batch, one part per kernel thread: the recurrence of each
    batch row is independent, so each thread runs all the time steps of its rows (its GEMMs on one
    BLAS thread, its step kernels without the GIL) and the threads meet once, where one BLAS call
    per step split across threads would meet T times (tiny GEMMs, each a wake-up and a wait).
    As with the convolution kernels, BLAS runs single-threaded from the first parallel run on."""
    from ttrain.autograd.kernels.conv_threads import for_each_chunk, kernel_threads  # imports numba

    for_each_chunk(batch, -(-batch // kernel_threads()), run_rows)


def _rows_gemm(steps: Any, dtype: np.dtype) -> int:
    """The BLAS address for `steps.forward_rows`/`backward_rows` (every time step of a range of batch
    rows in one nogil Numba call: no GIL taken between steps); 0 where the step class has none or
    NumPy's BLAS can't be reached from Numba: then Python drives the steps."""
    rows_gemm = getattr(steps, "rows_gemm", None)
    return rows_gemm(dtype) if rows_gemm is not None else 0


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def recurrence(kind: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool = False, steps: Any = None) -> Tensor:
    """Run one recurrence ("lstm", "gru", "rnn_tanh" or "rnn_relu") over x (T, B, I) from h0 (and c0
    for an LSTM); see `Recurrence`. Returns (T, B, H) outputs, with c_T appended as row T for an
    LSTM. `steps` replaces the Numba step kernels (the tests pass the NumPy reference)."""
    if steps is None:
        from ttrain.autograd.kernels.recurrent import STEPS  # imports numba: on first use only

        steps = STEPS[kind]
    rows, hidden = w_hh.shape
    if x.ndim != 3 or w_ih.shape != (rows, x.shape[2]) or rows != steps.gates * hidden:
        raise ShapeError(f"recurrence ({kind}): input {tuple(x.shape)}, weight_ih {tuple(w_ih.shape)} and "
                         f"weight_hh {tuple(w_hh.shape)} do not fit together")
    expected = (x.shape[1], hidden)
    for name, state in (("h0", h0), ("c0", c0)):
        if state is not None and tuple(state.shape) != expected:
            raise ShapeError(f"recurrence ({kind}): {name} of shape {tuple(state.shape)}, expected {expected}")
    if steps.has_cell != (c0 is not None):
        raise ShapeError(f"recurrence ({kind}): " + ("needs c0" if steps.has_cell else "takes no c0"))
    return Recurrence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, steps=steps, reverse=reverse)
