"""Winograd F(2x2, 3x3) convolution: 3x3, stride 1, dilation 1, one group (Lavin & Gray, 2015).

Each 2x2 block of outputs comes from a 4x4 input tile with 16 multiplications per channel pair
instead of 36, so the three GEMMs of a training step (output, weight gradient, input gradient)
do 2.25x less arithmetic than im2col's. With tiles t, tile elements xi (16) and channels:

    forward      y   = A^T [ U[xi] @ V[xi] ] A          U = G w G^T  (O, C),  V = B^T d B  (C, t)
    grad weight  dw  = G^T [ sum_t Gy[xi] @ V[xi]^T ] G              Gy = A gy A^T   (O, t)
    grad input   dx  = forward(gy padded by 2 - p, w flipped and transposed)

The batch is processed in chunks (transforms in serial Numba, GEMMs batched over the 16 tile
elements in np.matmul); chunk sums of the weight gradient are added in order, so results are
deterministic. Same references and tests as `conv.py`, which dispatches here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ttrain.autograd.kernels.conv_rows import _pad_plane

# Bytes of transformed input (16 x C x tiles) per chunk of samples.
_CHUNK_BYTES = 4 << 20

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


@njit(cache=True, inline="always")
def _bt(a, b, c, d):
    """One axis of B^T d B."""
    return a - c, b + c, c - b, b - d


@njit(cache=True, inline="always")
def _at(a, b, c, d):
    """One axis of A^T m A."""
    return a + b + c, b - c - d


@njit(cache=True, inline="always")
def _a(a, b):
    """One axis of A g A^T."""
    return a, a + b, a - b, -b


# Indices are cast to np.uint64 where they are used: Numba then emits no negative-index check and
# LLVM vectorizes the tile loops (see conv_rows.py).


@njit(cache=True)
def _input_transform(x, ph, pw, th, tw, plane, v):
    # v[4*i + j, c, n*th*tw + ty*tw + tx] = (B^T d B)[i, j] for the 4x4 tile d of the zero-padded
    # x[n, c] at rows 2*ty.., columns 2*tx..; `plane` is a flat (2*th + 2) x (2*tw + 2) scratch.
    m, c_, h, w = x.shape
    wp = 2 * tw + 2
    for n in range(m):
        for c in range(c_):
            _pad_plane(x[n, c].reshape(h * w), h, w, ph, pw, wp, 0.0, plane)
            for ty in range(th):
                for tx in range(tw):
                    t = np.uint64(n * th * tw + ty * tw + tx)
                    p = 2 * ty * wp + 2 * tx
                    r0 = _bt(plane[np.uint64(p)], plane[np.uint64(p + 1)], plane[np.uint64(p + 2)], plane[np.uint64(p + 3)])
                    p += wp
                    r1 = _bt(plane[np.uint64(p)], plane[np.uint64(p + 1)], plane[np.uint64(p + 2)], plane[np.uint64(p + 3)])
                    p += wp
                    r2 = _bt(plane[np.uint64(p)], plane[np.uint64(p + 1)], plane[np.uint64(p + 2)], plane[np.uint64(p + 3)])
                    p += wp
                    r3 = _bt(plane[np.uint64(p)], plane[np.uint64(p + 1)], plane[np.uint64(p + 2)], plane[np.uint64(p + 3)])
                    for j in range(4):
                        u0, u1, u2, u3 = _bt(r0[j], r1[j], r2[j], r3[j])
                        v[j, c, t] = u0
                        v[4 + j, c, t] = u1
                        v[8 + j, c, t] = u2
                        v[12 + j, c, t] = u3


@njit(cache=True)
def _output_transform(mt, th, tw, bias, y):
    # y[n, o, 2*ty + r, 2*tx + s] = (A^T M A)[r, s] + bias[o], M the 16 values of tile (ty, tx);
    # outputs past y's edge (odd sizes) are dropped.
    m, o_, ho, wo = y.shape
    for n in range(m):
        for o in range(o_):
            b = bias[o]
            out = y[n, o].reshape(ho * wo)
            for ty in range(th):
                for tx in range(tw):
                    t = np.uint64(n * th * tw + ty * tw + tx)
                    p0 = _at(mt[0, o, t], mt[4, o, t], mt[8, o, t], mt[12, o, t])
                    p1 = _at(mt[1, o, t], mt[5, o, t], mt[9, o, t], mt[13, o, t])
                    p2 = _at(mt[2, o, t], mt[6, o, t], mt[10, o, t], mt[14, o, t])
                    p3 = _at(mt[3, o, t], mt[7, o, t], mt[11, o, t], mt[15, o, t])
                    for r in range(2):
                        if 2 * ty + r < ho:
                            y0, y1 = _at(p0[r], p1[r], p2[r], p3[r])
                            q = (2 * ty + r) * wo + 2 * tx
                            out[np.uint64(q)] = y0 + b
                            if 2 * tx + 1 < wo:
                                out[np.uint64(q + 1)] = y1 + b


@njit(cache=True)
def _grad_output_transform(gy, th, tw, plane, gt):
    # gt[4*i + j, o, t] = (A g A^T)[i, j] for the 2x2 block g of gy[n, o] at tile t (0 past the edge).
    m, o_, ho, wo = gy.shape
    wp = 2 * tw
    for n in range(m):
        for o in range(o_):
            _pad_plane(gy[n, o].reshape(ho * wo), ho, wo, 0, 0, wp, 0.0, plane)
            for ty in range(th):
                for tx in range(tw):
                    t = np.uint64(n * th * tw + ty * tw + tx)
                    p = 2 * ty * wp + 2 * tx
                    c0 = _a(plane[np.uint64(p)], plane[np.uint64(p + wp)])
                    c1 = _a(plane[np.uint64(p + 1)], plane[np.uint64(p + wp + 1)])
                    for i in range(4):
                        e0, e1, e2, e3 = _a(c0[i], c1[i])
                        gt[4 * i, o, t] = e0
                        gt[4 * i + 1, o, t] = e1
                        gt[4 * i + 2, o, t] = e2
                        gt[4 * i + 3, o, t] = e3


def _tiles(ho: int, wo: int) -> tuple[int, int]:
    return -(-ho // 2), -(-wo // 2)


def _chunk(n: int, c: int, tiles: int, itemsize: int) -> int:
    return max(1, min(n, _CHUNK_BYTES // (16 * c * tiles * itemsize)))


def _input_tiles(x: np.ndarray, ph: int, pw: int, th: int, tw: int, plane: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """V = B^T d B of the samples in x, (16, C, m*th*tw), in `buffer`."""
    v = buffer[: 16 * x.shape[1] * x.shape[0] * th * tw].reshape(16, x.shape[1], -1)
    _input_transform(x, ph, pw, th, tw, plane, v)
    return v


def winograd_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, ph: int, pw: int) -> np.ndarray:
    """conv2d of x (N, C, H, W) with a 3x3 weight (O, C, 3, 3), stride 1, padding (ph, pw)."""
    n, c, h, w = x.shape
    o = weight.shape[0]
    ho, wo = h + 2 * ph - 2, w + 2 * pw - 2
    th, tw = _tiles(ho, wo)
    u = np.einsum("ai,ocij,bj->aboc", _G, weight.astype(np.float64), _G).reshape(16, o, c).astype(x.dtype)
    b = np.zeros(o, dtype=x.dtype) if bias is None else bias
    y = np.empty((n, o, ho, wo), dtype=x.dtype)
    chunk = _chunk(n, c, th * tw, x.itemsize)
    plane = np.empty((2 * th + 2) * (2 * tw + 2), dtype=x.dtype)
    v_buffer = np.empty(16 * c * chunk * th * tw, dtype=x.dtype)
    m_buffer = np.empty(16 * o * chunk * th * tw, dtype=x.dtype)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        v = _input_tiles(x[start:stop], ph, pw, th, tw, plane, v_buffer)
        mt = np.matmul(u, v, out=m_buffer[: 16 * o * v.shape[2]].reshape(16, o, -1))
        _output_transform(mt, th, tw, b, y[start:stop])
    return y


def winograd_grad_input(grad_output: np.ndarray, weight: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Input gradient of `winograd_forward` (needs ph, pw <= 2): a forward pass over the output
    gradient, padded by 2 - p, with the weight flipped and its channel axes swapped."""
    flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return winograd_forward(grad_output, flipped, None, 2 - ph, 2 - pw)


def winograd_grad_weight(grad_output: np.ndarray, x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Weight gradient (O, C, 3, 3) of `winograd_forward`."""
    n, c = x.shape[:2]
    o, ho, wo = grad_output.shape[1:]
    th, tw = _tiles(ho, wo)
    chunk = _chunk(n, max(c, o), th * tw, x.itemsize)
    plane = np.empty((2 * th + 2) * (2 * tw + 2), dtype=x.dtype)
    v_buffer = np.empty(16 * c * chunk * th * tw, dtype=x.dtype)
    g_buffer = np.empty(16 * o * chunk * th * tw, dtype=x.dtype)
    z = np.zeros((16, o, c), dtype=x.dtype)
    partial = np.empty((16, o, c), dtype=x.dtype)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        v = _input_tiles(x[start:stop], ph, pw, th, tw, plane, v_buffer)
        gt = g_buffer[: 16 * o * v.shape[2]].reshape(16, o, -1)
        _grad_output_transform(grad_output[start:stop], th, tw, plane, gt)
        z += np.matmul(gt, v.transpose(0, 2, 1), out=partial)
    dw = np.einsum("ai,aboc,bj->ocij", _G, z.reshape(4, 4, o, c).astype(np.float64), _G)
    return dw.astype(x.dtype)
