"""Fit the rational approximation behind ttrain's float32 erf kernel and print its coefficients.

    python tools/fit_erf.py

erf(x) ~= x * P(x^2) / Q(x^2) for |x| <= 4 (past 4, erf rounds to +-1 in float32), P of degree 6
and Q of degree 5 with Q(0) = 1. The fit is linear least squares on the relative residual
x * P - erf(x) * Q, reweighted a few dozen times toward the largest errors (a cheap route to a
near-minimax fit). Evaluated in float64, it is within one float32 ulp of the correctly rounded erf
(the script prints the largest error it finds). Only mul, add and one division: Numba vectorises
it, where `math.erf` is a scalar libm call per element.
"""

from __future__ import annotations

import math

import numpy as np

LIMIT = 4.0


def fit(p_terms: int = 7, q_terms: int = 6, rounds: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of P and Q, lowest degree first."""
    xs = np.concatenate([np.geomspace(1e-6, 1e-4, 50), np.linspace(1e-4, LIMIT, 20001)])
    ys = np.array([math.erf(v) for v in xs])
    s = xs * xs
    a = np.concatenate([xs[:, None] * s[:, None] ** np.arange(p_terms), -ys[:, None] * s[:, None] ** np.arange(1, q_terms)], 1)
    weights = 1.0 / ys
    coef = np.linalg.lstsq(a * weights[:, None], ys * weights, rcond=None)[0]
    for _ in range(rounds):
        p, q = coef[:p_terms], np.concatenate([[1.0], coef[p_terms:]])
        err = np.abs(xs * np.polyval(p[::-1], s) / np.polyval(q[::-1], s) - ys) / ys
        weights = weights * np.sqrt(err / err.max() + 0.05)
        weights /= weights.mean()
        coef = np.linalg.lstsq(a * weights[:, None], ys * weights, rcond=None)[0]
    return coef[:p_terms], np.concatenate([[1.0], coef[p_terms:]])


def max_ulp_error(p: np.ndarray, q: np.ndarray) -> float:
    """Largest error over [-5, 5] of the float64-evaluated approximation rounded to float32, in float32 ulps."""
    x = np.linspace(-5, 5, 300001)
    ref = np.array([math.erf(v) for v in x])
    c = np.clip(x, -LIMIT, LIMIT)
    approx = np.clip(c * np.polyval(p[::-1], c * c) / np.polyval(q[::-1], c * c), -1, 1).astype(np.float32)
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    return float((np.abs(approx.astype(np.float64) - ref) / ulp).max())


if __name__ == "__main__":
    p, q = fit()
    print("P =", tuple(float(v) for v in p))
    print("Q =", tuple(float(v) for v in q))
    print(f"largest error: {max_ulp_error(p, q):.2f} float32 ulp")
