"""Plain NumPy references for the fused recurrent time steps of `recurrent.py`, with the same step
classes and interface (see that module's docstring). The tests hold the kernels to these, and the
recurrence op runs on either."""

from __future__ import annotations

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class LSTMSteps:
    gates, saved, has_cell, hidden_path_apart = 4, 5, True, False

    @staticmethod
    def forward(xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c):
        i, f, g, o = np.split(xp + b_ih + hp + b_hh, 4, axis=1)
        i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        c[...] = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h[...] = o * tanh_c
        acts[...] = np.concatenate([i, f, g, o, tanh_c], axis=1)

    @staticmethod
    def backward(acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh):
        i, f, g, o, tanh_c = np.split(acts, 5, axis=1)
        dh_t = dy + dh
        dcell = dc + dh_t * o * (1 - tanh_c ** 2)
        dgx[...] = np.concatenate([dcell * g * i * (1 - i), dcell * c_prev * f * (1 - f),
                                   dcell * i * (1 - g ** 2), dh_t * tanh_c * o * (1 - o)], axis=1)
        dc[...] = dcell * f


class GRUSteps:
    gates, saved, has_cell, hidden_path_apart = 3, 4, False, True

    @staticmethod
    def forward(xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c):
        xr, xz, xn = np.split(xp + b_ih, 3, axis=1)
        hr, hz, hn = np.split(hp + b_hh, 3, axis=1)
        r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
        n = np.tanh(xn + r * hn)
        h[...] = (1 - z) * n + z * h_prev
        acts[...] = np.concatenate([r, z, n, hn], axis=1)

    @staticmethod
    def backward(acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh):
        r, z, n, hn = np.split(acts, 4, axis=1)
        dh_t = dy + dh
        dn = dh_t * (1 - z) * (1 - n ** 2)
        dr = dn * hn * r * (1 - r)
        dz = dh_t * (h_prev - n) * z * (1 - z)
        dgx[...] = np.concatenate([dr, dz, dn], axis=1)
        dgh[...] = np.concatenate([dr, dz, dn * r], axis=1)
        dh[...] = dh_t * z


class ElmanSteps:
    gates, saved, has_cell, hidden_path_apart = 1, 0, False, False

    def __init__(self, relu: bool) -> None:
        self.relu = relu

    def forward(self, xp, hp, b_ih, b_hh, h_prev, c_prev, acts, h, c):
        total = xp + b_ih + hp + b_hh
        h[...] = np.maximum(total, 0) if self.relu else np.tanh(total)

    def backward(self, acts, h_prev, c_prev, h, dy, dh, dc, dgx, dgh):
        dh_t = dy + dh
        dgx[...] = np.where(h > 0, dh_t, 0) if self.relu else dh_t * (1 - h ** 2)


STEPS = {"lstm": LSTMSteps(), "gru": GRUSteps(), "rnn_tanh": ElmanSteps(False), "rnn_relu": ElmanSteps(True)}
