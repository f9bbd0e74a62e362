"""Winograd F(2x2, 3x3) convolution: 3x3, stride 1, dilation 1, one group (Lavin & Gray, 2015).

Each 2x2 block of outputs comes from a 4x4 input tile with 16 multiplications per channel pair
instead of 36, so the three GEMMs of a training step (output, weight gradient, input gradient)
do 2.25x less arithmetic than im2col's. With tiles t, tile elements xi (16) and channels:

    forward      y   = A^T [ U[xi] @ V[xi] ] A          U = G w G^T  (O, C),  V = B^T d B  (C, t)
    grad weight  dw  = G^T [ sum_t Gy[xi] @ V[xi]^T ] G              Gy = A gy A^T   (O, t)
    grad input   dx  = forward(gy padded by 2 - p, w flipped and transposed)

Each pass runs chunks of samples in parallel (`conv_threads.for_each_chunk`), a chunk start to
end on one thread: transforms and GEMMs, the GEMMs in Numba too. BLAS threads spinning between
calls beside the transforms made a BLAS version 2-10x slower on 2 busy cores, while the Numba GEMM
(conv_rows._matmul) reaches ~80% of OpenBLAS on these shapes. Weight-gradient chunks are summed in order, so results
are deterministic. Same references and tests as `conv.py`, which dispatches here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ttrain.autograd.kernels.conv_rows import _gather, _matmul, _pad_plane
from ttrain.autograd.kernels.conv_threads import for_each_chunk, kernel_threads

# At most this many bytes of transformed input (16 x C x tiles) per chunk of samples.
_CHUNK_BYTES = 8 << 20
# The 16 tile-element matrices sit this many elements further apart than their size: the
# transforms write (or read) all 16 at once, and at a power-of-two distance those streams fall
# into the same L1 cache sets (measured 8-10x slower).
_SKEW = 32

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


# Each transform runs in two passes so that every inner loop is a plain vectorizable loop: the
# vertical half on whole rows (4 input rows -> 4 rows), then the horizontal half across the tiles
# of a row (stride-2 loads or stores). Indices are cast to np.uint64 where they are used, so Numba
# emits no negative-index check (see conv_rows.py).


@njit(cache=True, nogil=True)
def _input_transform(x, ph, pw, th, tw, row_len, col0, plane, rows, v):
    # v[4*i + j, c*row_len + col0 + n*th*tw + ty*tw + tx] = (B^T d B)[i, j] for the 4x4 tile d
    # of the zero-padded x[n, c] at rows 2*ty.., columns 2*tx..: tile element k's (C, row_len)
    # matrix lies flat in v[k]. Scratch: `plane` flat (2*th + 2) x (2*tw + 2), `rows` (4, 2*tw + 2).
    m, c_, h, w = x.shape
    wp = 2 * tw + 2
    for n in range(m):
        for c in range(c_):
            _pad_plane(x[n, c].reshape(h * w), h, w, ph, pw, wp, 0.0, plane)
            for ty in range(th):
                p = 2 * ty * wp
                for k in range(np.uint64(wp)):  # B^T down the 4 rows of the tile row
                    d0 = plane[np.uint64(p) + k]
                    d1 = plane[np.uint64(p + wp) + k]
                    d2 = plane[np.uint64(p + 2 * wp) + k]
                    d3 = plane[np.uint64(p + 3 * wp) + k]
                    rows[0, k] = d0 - d2
                    rows[1, k] = d1 + d2
                    rows[2, k] = d2 - d1
                    rows[3, k] = d1 - d3
                t0 = np.uint64(c * row_len + col0 + n * th * tw + ty * tw)
                for i in range(4):  # B along each row, one tile per step
                    r = rows[i]
                    for tx in range(np.uint64(tw)):
                        e0 = r[2 * tx]
                        e1 = r[2 * tx + np.uint64(1)]
                        e2 = r[2 * tx + np.uint64(2)]
                        e3 = r[2 * tx + np.uint64(3)]
                        v[4 * i, t0 + tx] = e0 - e2
                        v[4 * i + 1, t0 + tx] = e1 + e2
                        v[4 * i + 2, t0 + tx] = e2 - e1
                        v[4 * i + 3, t0 + tx] = e1 - e3


@njit(cache=True, nogil=True)
def _output_transform(mt, th, tw, row_len, bias, rows, y):
    # y[n, o, 2*ty + r, 2*tx + s] = (A^T M A)[r, s] + bias[o] for the 16 values M of tile (ty, tx)
    # in mt[:, o*row_len + n*th*tw + ty*tw + tx]; outputs past y's edge (odd sizes) are dropped.
    # Scratch: `rows` (2, 2*tw).
    m, o_, ho, wo = y.shape
    for n in range(m):
        for o in range(o_):
            b = bias[o]
            out = y[n, o].reshape(ho * wo)
            for ty in range(th):
                t0 = np.uint64(o * row_len + n * th * tw + ty * tw)
                for r in range(2):
                    for tx in range(np.uint64(tw)):  # A^T down the tile's 4 rows, then A along
                        t = t0 + tx
                        if r == 0:
                            q0 = mt[0, t] + mt[4, t] + mt[8, t]
                            q1 = mt[1, t] + mt[5, t] + mt[9, t]
                            q2 = mt[2, t] + mt[6, t] + mt[10, t]
                            q3 = mt[3, t] + mt[7, t] + mt[11, t]
                        else:
                            q0 = mt[4, t] - mt[8, t] - mt[12, t]
                            q1 = mt[5, t] - mt[9, t] - mt[13, t]
                            q2 = mt[6, t] - mt[10, t] - mt[14, t]
                            q3 = mt[7, t] - mt[11, t] - mt[15, t]
                        rows[r, 2 * tx] = q0 + q1 + q2 + b
                        rows[r, 2 * tx + np.uint64(1)] = q1 - q2 - q3 + b
                    if 2 * ty + r < ho:
                        _gather(out, (2 * ty + r) * wo, rows[r], 0, 1, wo)


@njit(cache=True, nogil=True)
def _grad_output_transform(gy, th, tw, row_len, col0, plane, rows, gt):
    # gt[4*i + j, o*row_len + col0 + n*th*tw + ty*tw + tx] = (A g A^T)[i, j] for the 2x2 block g
    # of gy[n, o] at tile (ty, tx), 0 past the edge. Scratch: `plane` at least 2*th x 2*tw,
    # `rows` (4, 2*tw).
    m, o_, ho, wo = gy.shape
    wp = 2 * tw
    for n in range(m):
        for o in range(o_):
            _pad_plane(gy[n, o].reshape(ho * wo), ho, wo, 0, 0, wp, 0.0, plane)
            for ty in range(th):
                p = 2 * ty * wp
                for k in range(np.uint64(wp)):  # A down the block's 2 rows
                    g0 = plane[np.uint64(p) + k]
                    g1 = plane[np.uint64(p + wp) + k]
                    rows[0, k] = g0
                    rows[1, k] = g0 + g1
                    rows[2, k] = g0 - g1
                    rows[3, k] = -g1
                t0 = np.uint64(o * row_len + col0 + n * th * tw + ty * tw)
                for i in range(4):  # A^T along each row
                    r = rows[i]
                    for tx in range(np.uint64(tw)):
                        e0 = r[2 * tx]
                        e1 = r[2 * tx + np.uint64(1)]
                        gt[4 * i, t0 + tx] = e0
                        gt[4 * i + 1, t0 + tx] = e0 + e1
                        gt[4 * i + 2, t0 + tx] = e0 - e1
                        gt[4 * i + 3, t0 + tx] = -e1


# A chunk's transforms and products are separate kernels called from Python (three calls per chunk,
# ~10 us): a Numba kernel that called them would compile each again inside itself (Numba links and
# re-optimises callees into every caller), which cost ~2 s more on a first run.


@njit(cache=True, nogil=True)
def _tile_products(u, v, cols, mt):
    # mt[k] = u[k] @ V[k] for the 16 tile elements: (O, C) @ (C, cols), V[k] and the result lying
    # flat in v[k] and mt[k].
    o_, c_ = u.shape[1], u.shape[2]
    for k in range(16):
        _matmul(u[k], v[k, : c_ * cols].reshape(c_, cols), mt[k, : o_ * cols].reshape(o_, cols))


@njit(cache=True, nogil=True)
def _tile_weight_products(v, gt, cols, partial):
    # partial[k] = (Gy[k] @ V[k]^T)^T = V[k] @ Gy[k]^T for the 16 tile elements. Gy[k] is
    # transposed first so that the GEMM reduces over tiles in _matmul's vectorized form (2x a
    # lane-wise dot product here).
    c_, o_ = partial.shape[1], partial.shape[2]
    gt_t = np.empty((cols, o_), dtype=gt.dtype)
    for k in range(16):
        g = gt[k, : o_ * cols].reshape(o_, cols)
        for t in range(cols):  # this order (contiguous writes) measured 2x the other
            for o in range(o_):
                gt_t[t, o] = g[o, t]
        _matmul(v[k, : c_ * cols].reshape(c_, cols), gt_t, partial[k])


def _scratch(x: np.ndarray, th: int, tw: int) -> tuple[np.ndarray, np.ndarray]:
    """The transforms' scratch: one padded plane and four tile rows."""
    return np.empty((2 * th + 2) * (2 * tw + 2), dtype=x.dtype), np.empty((4, 2 * tw + 2), dtype=x.dtype)


def _forward_chunk(x: np.ndarray, u: np.ndarray, bias: np.ndarray, ph: int, pw: int, th: int, tw: int,
                   y: np.ndarray, kept: list | None, slot: int) -> None:
    """Transform, 16 GEMMs and inverse transform of the samples in x, into y; the transformed
    input goes to kept[slot] when `kept` is a list."""
    c, o = x.shape[1], u.shape[1]
    cols = x.shape[0] * th * tw
    plane, rows = _scratch(x, th, tw)
    v = np.empty((16, c * cols + _SKEW), dtype=x.dtype)
    mt = np.empty((16, o * cols + _SKEW), dtype=x.dtype)
    _input_transform(x, ph, pw, th, tw, cols, 0, plane, rows, v)
    _tile_products(u, v, cols, mt)
    _output_transform(mt, th, tw, cols, bias, rows, y)
    if kept is not None:
        kept[slot] = v


def _weight_grad_chunk(x: np.ndarray, gy: np.ndarray, ph: int, pw: int, th: int, tw: int,
                       partial: np.ndarray, v: np.ndarray | None) -> None:
    """partial (16, C, O): the samples' share of the transformed weight gradient; `v` is their
    transformed input when the forward pass kept it (else None: transformed here)."""
    c, o = x.shape[1], gy.shape[1]
    cols = x.shape[0] * th * tw
    plane, rows = _scratch(x, th, tw)
    if v is None:
        v = np.empty((16, c * cols + _SKEW), dtype=x.dtype)
        _input_transform(x, ph, pw, th, tw, cols, 0, plane, rows, v)
    gt = np.empty((16, o * cols + _SKEW), dtype=x.dtype)
    _grad_output_transform(gy, th, tw, cols, 0, plane, rows, gt)
    _tile_weight_products(v, gt, cols, partial)


def _tiles(ho: int, wo: int) -> tuple[int, int]:
    return -(-ho // 2), -(-wo // 2)


def _chunk(n: int, channels: int, tiles: int, itemsize: int) -> int:
    """Samples per parallel chunk: about 8 chunks per thread (measured best on the MNIST CNN: fewer
    leaves cores idle, more costs ~10 us a task), capped so that a chunk's tiles stay in cache."""
    per_thread = -(-n // (8 * kernel_threads()))
    return max(1, min(per_thread, _CHUNK_BYTES // (16 * channels * tiles * itemsize)))


def winograd_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, ph: int, pw: int,
                     keep_tiles: bool = False) -> tuple[np.ndarray, list | None]:
    """conv2d of x (N, C, H, W) with a 3x3 weight (O, C, 3, 3), stride 1, padding (ph, pw).

    Returns (y, tiles): with `keep_tiles`, tiles holds the transformed input chunk by chunk for
    `winograd_grad_weight` (one input transform fewer per training step: ~5% of the MNIST CNN's
    step, for 16 * C * tiles floats kept until the backward pass); else None.
    """
    n, c, h, w = x.shape
    o = weight.shape[0]
    ho, wo = h + 2 * ph - 2, w + 2 * pw - 2
    th, tw = _tiles(ho, wo)
    # U = G w G^T per channel pair, as two batched products (a 3-operand einsum took ~0.6 ms here)
    # (C order: a strided u would compile every kernel it reaches a second time)
    u = (_G @ weight.astype(np.float64) @ _G.T).transpose(2, 3, 0, 1).reshape(16, o, c).astype(x.dtype, order="C")
    b = np.zeros(o, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    y = np.empty((n, o, ho, wo), dtype=x.dtype)
    # Kept tiles are cut as the weight gradient cuts its chunks (the split never changes y's bits).
    chunk = _weight_chunk(n, c, o, th * tw, x.itemsize) if keep_tiles else _chunk(n, c, th * tw, x.itemsize)
    kept = [None] * -(-n // chunk) if keep_tiles else None
    for_each_chunk(n, chunk, lambda i, j: _forward_chunk(x[i:j], u, b, ph, pw, th, tw, y[i:j], kept, i // chunk))
    return y, kept


def _weight_chunk(n: int, c: int, o: int, tiles: int, itemsize: int) -> int:
    return _chunk(n, max(c, o), tiles, itemsize)


def winograd_grad_input(grad_output: np.ndarray, weight: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Input gradient of `winograd_forward` (needs ph, pw <= 2): a forward pass over the output
    gradient, padded by 2 - p, with the weight flipped and its channel axes swapped."""
    flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return winograd_forward(grad_output, flipped, None, 2 - ph, 2 - pw)[0]


def winograd_grad_weight(grad_output: np.ndarray, x: np.ndarray, ph: int, pw: int,
                         tiles: list | None = None) -> np.ndarray:
    """Weight gradient (O, C, 3, 3) of `winograd_forward`; `tiles`: what it kept, if it did."""
    n, c = x.shape[:2]
    o, ho, wo = grad_output.shape[1:]
    th, tw = _tiles(ho, wo)
    chunk = _weight_chunk(n, c, o, th * tw, x.itemsize)
    count = -(-n // chunk)
    if tiles is not None and len(tiles) != count:
        tiles = None  # kept under another thread count: transform again
    partials = np.empty((count, 16, c, o), dtype=x.dtype)
    for_each_chunk(n, chunk, lambda i, j: _weight_grad_chunk(x[i:j], grad_output[i:j], ph, pw, th, tw,
                                                             partials[i // chunk], tiles and tiles[i // chunk]))
    z = partials.sum(axis=0)  # chunk by chunk, in order
    dw = (_G.T @ z.reshape(4, 4, c, o).astype(np.float64).transpose(3, 2, 0, 1) @ _G)  # (O, C, 3, 3)
    return dw.astype(x.dtype)
