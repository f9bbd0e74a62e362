"""The NumPy floor: the MLP 784-512-256-10 training step written by hand (forward, backward, Adam), float32.

This is what an engine over NumPy could reach with zero overhead: the same matmuls, the same
element-wise passes, in-place wherever plain NumPy allows, and no graph. It follows PyTorch's
maths exactly (Linear weights `(out, in)`, mean cross-entropy, Adam with bias correction), so its
first-batch loss matches the other frameworks'.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.workloads import Inputs, Step, Task

LAYERS = ("net.0", "net.2", "net.4")


def _cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of `logits` (B, C) against int labels, and its gradient (overwrites `logits`)."""
    rows = np.arange(len(labels))
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    total = logits.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - np.log(logits[rows, labels])))
    logits /= total  # softmax
    logits[rows, labels] -= 1.0
    logits *= 1.0 / len(labels)
    return loss, logits


class NumpyMLP:
    """Weights, Adam state and one `step(x, labels)` for the MLP, all float32 arrays."""

    def __init__(self, state: dict[str, np.ndarray], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        names = [f"{layer}.{kind}" for layer in LAYERS for kind in ("weight", "bias")]
        self.params = [np.array(state[name], dtype=np.float32) for name in names]
        self.exp_avg = [np.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p) for p in self.params]
        self.scratch = [np.empty_like(p) for p in self.params]
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hidden activations a1, a2 and the logits."""
        w1, b1, w2, b2, w3, b3 = self.params
        a1 = x @ w1.T
        a1 += b1
        np.maximum(a1, 0, out=a1)
        a2 = a1 @ w2.T
        a2 += b2
        np.maximum(a2, 0, out=a2)
        logits = a2 @ w3.T
        logits += b3
        return a1, a2, logits

    def loss(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy of the current weights on one batch."""
        return _cross_entropy_grad(self.forward(x)[2], labels)[0]

    def gradients(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """The loss and its gradient for every parameter (in `params` order), by hand-written backward."""
        w2, w3 = self.params[2], self.params[4]
        a1, a2, logits = self.forward(x)
        loss, g3 = _cross_entropy_grad(logits, labels)
        g2 = g3 @ w3
        g2 *= a2 > 0  # ReLU's gradient
        g1 = g2 @ w2
        g1 *= a1 > 0
        return loss, [g1.T @ x, g1.sum(axis=0), g2.T @ a1, g2.sum(axis=0), g3.T @ a2, g3.sum(axis=0)]

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        """One forward, backward and Adam update; returns the loss before the update."""
        loss, grads = self.gradients(x, labels)
        self.adam(grads)
        return loss

    def adam(self, grads: list[np.ndarray]) -> None:
        """One Adam update of every parameter with `grads`, in place (torch.optim.Adam's formula)."""
        beta1, beta2 = self.betas
        self.t += 1
        step_size = self.lr / (1.0 - beta1 ** self.t)
        inv_root_bc2 = 1.0 / math.sqrt(1.0 - beta2 ** self.t)
        for p, g, m, v, tmp in zip(self.params, grads, self.exp_avg, self.exp_avg_sq, self.scratch):
            m *= beta1
            np.multiply(g, 1.0 - beta1, out=tmp)
            m += tmp
            v *= beta2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - beta2
            v += tmp
            np.sqrt(v, out=tmp)  # denominator sqrt(v / bc2) + eps, as torch.optim.Adam
            tmp *= inv_root_bc2
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


def build(task: Task, inputs: Inputs) -> tuple[Step, float]:
    """A step function over one batch of arrays and the first-batch loss (the MLP training task only)."""
    if task.model != "mlp" or not task.train:
        raise ValueError(f"the NumPy floor implements MLP training only, not {task.key!r}")
    net = NumpyMLP(inputs.init_state("mlp"))
    x0, y0 = inputs.batches(task)[0]
    check = net.loss(x0, y0)

    def train(x: np.ndarray, y: np.ndarray) -> None:
        net.step(x, y)

    return train, check
