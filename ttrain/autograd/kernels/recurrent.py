"""Fused time steps of the recurrent layers: LSTM, GRU and Elman (tanh or relu), forward and backward.

One call does everything of one time step except the hidden-to-hidden GEMM: adding the input
projection, the hidden projection and both biases, every gate's activation, the cell update, and in
backward every gate's derivative. The GEMMs stay in BLAS (`ops/recurrent.py` calls them between
the steps): a GEMM written in Numba ran 2x slower than OpenBLAS on LSTM(28, 128)'s (64, 128) @
(128, 512), and Numba's own `np.dot` needs SciPy. For the LSTM, `_lstm_forward_rows` and
`_lstm_backward_rows` run all the time steps of a range of batch rows in one nogil call, calling
NumPy's OpenBLAS GEMM from Numba (`blas.py`): no GIL is taken between steps.

Speed comes from the transcendental functions. A scalar `math.tanh`/`math.exp` per gate costs
~340 us per LSTM step at batch 64, hidden 128 (more than the step's GEMM); float32 therefore uses
Eigen's rational tanh (|error| < 4e-7 against float64 tanh, ~6 ulp near +-1), which LLVM
vectorises, with sigmoid(x) = 0.5 + 0.5 tanh(x / 2): ~24 us per LSTM step. float64 (gradcheck,
references) keeps libm's tanh. The loops run one batch row at a time over contiguous gate
ranges, each loop simple enough to vectorise.

Every step class has the same interface, which `ops/recurrent.py` drives and `recurrent_reference.py`
repeats in plain NumPy for the tests:
  forward(xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c)   writes acts (what backward needs), h, c
  backward(acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh)
xp: (B, G) input projection and hp: (B, G) hidden projection, both without bias (adding b_ih
here saves a pass over all steps' projections); dy: this step's
output gradient; dh: in, the gradient reaching h from later steps; out, the part of h_prev's
gradient that bypasses W_hh (GRU only; the others leave it for the GEMM to overwrite); dc: the
cell gradient, c_t's in and c_prev's out. dgx/dgh: gradients of the input and hidden
pre-activations (the same array unless `hidden_path_apart`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from ttrain.autograd import compilation
from ttrain.autograd.kernels.blas import _as, gemm_address, gemm_into

compilation.watch()  # before any kernel of this module compiles

# numpy's error model: no division checks in the loops; nogil: each kernel thread runs its own
# batch rows (ops/recurrent.py)
_jit = njit(cache=True, nogil=True, error_model="numpy")


def _tanh(x):
    return math.tanh(x)


def _tanh_float32(x):
    # Eigen's generic_fast_tanh_float: a 13/6 rational function on [-7.905, 7.905], where
    # float32 tanh is +-1 beyond.
    x = min(max(x, np.float32(-7.90531110763549805)), np.float32(7.90531110763549805))
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return x * p / q


@overload(_tanh, inline="always")
def _tanh_typed(x):
    if x == types.float32:
        return _tanh_float32
    return lambda x: math.tanh(x)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sigmoid(x):
    half = _as(x, 0.5)
    return half + half * _tanh(half * x)


@_jit
def tanh_array(x, out):
    """The tanh the kernels use, over a 1-D array (for the accuracy test)."""
    for i in range(x.size):
        out[i] = _tanh(x[i])


# ---- LSTM: gates i, f, g, o; acts holds i, f, g, o, tanh(c) ------------------------------------
# Every loop runs from 0 over views of one gate: indexing a[2 * n + j] made Numba keep its
# negative-index check and LLVM give up vectorising (a tanh over range(2n, 3n) ran 6x slower
# than over a view), and a loop that writes one part of an array while reading another as well.
@_jit
def _lstm_forward(xp, hp, b_ih, b_hh, c_prev, acts, c, h):
    batch, n = c.shape
    for b in range(batch):
        x, r, a = xp[b], hp[b], acts[b]
        for j in range(4 * n):
            a[j] = x[j] + r[j] + (b_ih[j] + b_hh[j])
        i_f, g, o, tanh_c = a[:2 * n], a[2 * n:3 * n], a[3 * n:4 * n], a[4 * n:]
        for j in range(2 * n):
            i_f[j] = _sigmoid(i_f[j])
        for j in range(n):
            g[j] = _tanh(g[j])
        for j in range(n):
            o[j] = _sigmoid(o[j])
        i, f, cp, cb, hb = a[:n], a[n:2 * n], c_prev[b], c[b], h[b]
        for j in range(n):
            cb[j] = f[j] * cp[j] + i[j] * g[j]
        for j in range(n):
            tanh_c[j] = _tanh(cb[j])
        for j in range(n):
            hb[j] = o[j] * tanh_c[j]


@_jit
def _lstm_backward(acts, c_prev, dy, dh, dc, dg):
    batch, n = dh.shape
    one = _as(acts[0, 0], 1.0)
    for b in range(batch):
        a, cp, y, r, cg, d = acts[b], c_prev[b], dy[b], dh[b], dc[b], dg[b]
        i, f, g, o, tanh_c = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:4 * n], a[4 * n:]
        di, df, dgg, do = d[:n], d[n:2 * n], d[2 * n:3 * n], d[3 * n:]
        for j in range(n):
            dh_t = y[j] + r[j]
            dcell = cg[j] + dh_t * o[j] * (one - tanh_c[j] * tanh_c[j])
            di[j] = dcell * g[j] * i[j] * (one - i[j])
            df[j] = dcell * cp[j] * f[j] * (one - f[j])
            dgg[j] = dcell * i[j] * (one - g[j] * g[j])
            do[j] = dh_t * tanh_c[j] * o[j] * (one - o[j])
            cg[j] = dcell * f[j]


@_jit
def _lstm_forward_rows(gemm, xp, w_hh_t, b_ih, b_hh, h0, c0, acts, ys, cs, hp, start, stop, reverse):
    """Every time step of batch rows [start, stop) in one call: the GEMM h_prev @ W_hh^T into hp,
    then the fused step. Arrays are the whole (T, B, ...) ones; t runs backwards if `reverse`."""
    steps = xp.shape[0]
    h_prev, c_prev = h0[start:stop], c0[start:stop]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        gemm_into(gemm, h_prev, False, w_hh_t, False, 0.0, hp)  # hp = h_prev @ W_hh^T
        _lstm_forward(xp[t, start:stop], hp, b_ih, b_hh, c_prev, acts[t, start:stop], cs[t, start:stop],
                      ys[t, start:stop])
        h_prev, c_prev = ys[t, start:stop], cs[t, start:stop]


@_jit
def _lstm_backward_rows(gemm, acts, c0, cs, dys, w_hh, dh, dc, dg, start, stop, reverse):
    """Back through every time step of batch rows [start, stop) in one call: the fused step, then
    the GEMM dgates @ W_hh into dh (h_prev's gradient)."""
    steps = acts.shape[0]
    dh_rows, dc_rows = dh[start:stop], dc[start:stop]
    for k in range(steps):
        t = k if reverse else steps - 1 - k
        first = t == steps - 1 if reverse else t == 0
        c_prev = c0[start:stop] if first else cs[t + 1 if reverse else t - 1, start:stop]
        _lstm_backward(acts[t, start:stop], c_prev, dys[t, start:stop], dh_rows, dc_rows, dg[t, start:stop])
        gemm_into(gemm, dg[t, start:stop], False, w_hh, False, 0.0, dh_rows)  # dh = dgates @ W_hh


class LSTMSteps:
    """LSTM time steps (see the module docstring for the interface), and all the steps of a range
    of batch rows in one call where NumPy's BLAS can be called from Numba (`blas.py`)."""

    gates = 4
    saved = 5  # acts: i, f, g, o, tanh(c), each (B, H)
    has_cell = True
    hidden_path_apart = False

    @staticmethod
    def rows_gemm(dtype: np.dtype) -> int:
        """The GEMM address `forward_rows`/`backward_rows` need for `dtype`; 0: use the per-step calls."""
        return gemm_address(np.dtype(dtype))

    @staticmethod
    def forward_rows(gemm, xp, w_hh_t, b_ih, b_hh, h0, c0, acts, ys, cs, hp, start, stop, reverse):
        _lstm_forward_rows(gemm, xp, w_hh_t, b_ih, b_hh, h0, c0, acts, ys, cs, hp, start, stop, reverse)

    @staticmethod
    def backward_rows(gemm, acts, c0, cs, dys, w_hh, dh, dc, dg, start, stop, reverse):
        _lstm_backward_rows(gemm, acts, c0, cs, dys, w_hh, dh, dc, dg, start, stop, reverse)

    @staticmethod
    def forward(xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c):
        _lstm_forward(xp, hp, b_ih, b_hh, c_prev, acts, c, h)

    @staticmethod
    def backward(acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh):
        _lstm_backward(acts, c_prev, dy, dh, dc, dgx)


# ---- GRU: gates r, z, n; acts holds r, z, n, W_hn h + b_hn -------------------------------------
@_jit
def _gru_forward(xp, hp, b_ih, b_hh, h_prev, acts, h):
    batch, n = h.shape
    b_in, b_hn = b_ih[2 * n:], b_hh[2 * n:]
    for b in range(batch):
        x, r, a, hb, before = xp[b], hp[b], acts[b], h[b], h_prev[b]
        reset_update, reset, update, new, hn = a[:2 * n], a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
        x_n, h_n = x[2 * n:], r[2 * n:]
        for j in range(2 * n):
            reset_update[j] = _sigmoid(x[j] + r[j] + (b_ih[j] + b_hh[j]))
        for j in range(n):
            hn[j] = h_n[j] + b_hn[j]
        for j in range(n):
            new[j] = _tanh(x_n[j] + b_in[j] + reset[j] * hn[j])
        for j in range(n):
            hb[j] = new[j] + update[j] * (before[j] - new[j])


@_jit
def _gru_backward(acts, h_prev, dy, dh, dgx, dgh):
    batch, n = dh.shape
    one = _as(acts[0, 0], 1.0)
    for b in range(batch):
        a, before, y, r, gx, gh = acts[b], h_prev[b], dy[b], dh[b], dgx[b], dgh[b]
        reset, update, new, hn = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
        gx_r, gx_z, gx_n, gh_r, gh_z, gh_n = gx[:n], gx[n:2 * n], gx[2 * n:], gh[:n], gh[n:2 * n], gh[2 * n:]
        for j in range(n):
            dh_t = y[j] + r[j]
            dnew = dh_t * (one - update[j]) * (one - new[j] * new[j])
            dreset = dnew * hn[j] * reset[j] * (one - reset[j])
            dupdate = dh_t * (before[j] - new[j]) * update[j] * (one - update[j])
            gx_r[j] = dreset
            gh_r[j] = dreset
            gx_z[j] = dupdate
            gh_z[j] = dupdate
            gx_n[j] = dnew
            gh_n[j] = dnew * reset[j]
            r[j] = dh_t * update[j]


class GRUSteps:
    """GRU time steps (see the module docstring for the interface)."""

    gates = 3
    saved = 4  # acts: r, z, n, W_hn h + b_hn
    has_cell = False
    hidden_path_apart = True

    @staticmethod
    def forward(xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c):
        _gru_forward(xp, hp, b_ih, b_hh, h_prev, acts, h)

    @staticmethod
    def backward(acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh):
        _gru_backward(acts, h_prev, dy, dh, dgx, dgh)


# ---- Elman: h = tanh or relu of the sum; backward needs only h ---------------------------------
@_jit
def _elman_forward(xp, hp, b_ih, b_hh, h, relu):
    batch, n = h.shape
    zero = _as(h[0, 0], 0.0)
    for b in range(batch):
        x, r, hb = xp[b], hp[b], h[b]
        if relu:
            for j in range(n):
                hb[j] = max(x[j] + r[j] + (b_ih[j] + b_hh[j]), zero)
        else:
            for j in range(n):
                hb[j] = _tanh(x[j] + r[j] + (b_ih[j] + b_hh[j]))


@_jit
def _elman_backward(h, dy, dh, dg, relu):
    batch, n = h.shape
    zero, one = _as(h[0, 0], 0.0), _as(h[0, 0], 1.0)
    for b in range(batch):
        hb, y, r, d = h[b], dy[b], dh[b], dg[b]
        if relu:
            for j in range(n):
                d[j] = y[j] + r[j] if hb[j] > zero else zero
        else:
            for j in range(n):
                d[j] = (y[j] + r[j]) * (one - hb[j] * hb[j])


class ElmanSteps:
    """Elman RNN time steps, tanh or relu (see the module docstring for the interface)."""

    gates = 1
    saved = 0
    has_cell = False
    hidden_path_apart = False

    def __init__(self, relu: bool) -> None:
        self.relu = relu

    def forward(self, xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c):
        _elman_forward(xp, hp, b_ih, b_hh, h, self.relu)

    def backward(self, acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh):
        _elman_backward(h, dy, dh, dgx, self.relu)


STEPS = {"lstm": LSTMSteps(), "gru": GRUSteps(), "rnn_tanh": ElmanSteps(False), "rnn_relu": ElmanSteps(True)}
