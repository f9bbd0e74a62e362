"""PyTorch's everyday tensor ops, one table: each row runs through ttrain and torch.

For every row: the values (and the indices or masks it returns) match torch's; where it is
differentiable, its gradient passes `gradcheck` in float64 and matches torch's gradient.
Rows take `(lib, *inputs)`, so the same code runs on both libraries.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable

import numpy as np
import pytest

import ttrain
from ttrain.autograd import gradcheck

torch = pytest.importorskip("torch")


def _idx(lib, rows):
    return lib.tensor(rows, dtype=lib.long) if lib is ttrain else torch.tensor(rows, dtype=torch.long)


# name: (fn(lib, *inputs), input shapes, differentiable)
OPS: dict[str, tuple[Callable[..., Any], list[tuple[int, ...]], bool]] = {
    "sort_descending": (lambda lib, x: x.sort(dim=1, descending=True), [(3, 5)], True),
    "sort_function_dim0": (lambda lib, x: lib.sort(x, 0), [(4, 3)], True),
    "topk_largest": (lambda lib, x: x.topk(2), [(3, 5)], True),
    "topk_smallest_dim0": (lambda lib, x: lib.topk(x, 3, dim=0, largest=False), [(4, 2)], True),
    "index_select": (lambda lib, x: x.index_select(1, _idx(lib, [2, 0, 2])), [(3, 4)], True),
    "index_select_function": (lambda lib, x: lib.index_select(x, 0, _idx(lib, [1, 1])), [(3, 4)], True),
    "chunk_uneven": (lambda lib, x: x.chunk(3, dim=1), [(2, 7)], True),
    "chunk_function": (lambda lib, x: lib.chunk(x, 2), [(5, 2)], True),
    "split_size": (lambda lib, x: x.split(2, dim=1), [(3, 5)], True),
    "split_sections": (lambda lib, x: lib.split(x, [1, 3, 1], dim=0), [(5, 2)], True),
    "flip_two_dims": (lambda lib, x: x.flip(0, 1), [(3, 4)], True),
    "flip_function": (lambda lib, x: lib.flip(x, [2]), [(2, 3, 4)], True),
    "repeat_adds_dims": (lambda lib, x: x.repeat(2, 1, 3), [(2, 3)], True),
    "masked_fill": (lambda lib, x: x.masked_fill(x > 0.3, -1.5), [(3, 4)], True),
    "masked_fill_function": (lambda lib, x, y: lib.masked_fill(x, y < 0, 2.0) * y, [(3, 4), (3, 4)], True),
    "where_method": (lambda lib, x, y: x.where(x > 0, y), [(3, 4), (4,)], True),
    "scatter_src": (lambda lib, x, s: x.scatter(1, _idx(lib, [[0, 2], [1, 0], [3, 1]]), s), [(3, 4), (3, 2)], True),
    "scatter_value": (lambda lib, x: x.scatter(0, _idx(lib, [[2, 0, 1]]), 0.5), [(3, 3)], True),
    "scatter_small_index": (lambda lib, x, s: lib.scatter(x, 0, _idx(lib, [[1], [0]]), s), [(3, 2), (2, 1)], True),
    "scatter_add_repeats": (lambda lib, x, s: x.scatter_add(1, _idx(lib, [[0, 0, 2], [1, 1, 1]]), s),
                            [(2, 3), (2, 3)], True),
    "cumsum_dim1": (lambda lib, x: x.cumsum(1), [(3, 4)], True),
    "cumsum_function": (lambda lib, x: lib.cumsum(x, dim=0), [(4, 2)], True),
    "norm_frobenius": (lambda lib, x: x.norm(), [(3, 4)], True),
    "norm_dim": (lambda lib, x: x.norm(dim=1, keepdim=True), [(3, 4)], True),
    "norm_p1": (lambda lib, x: x.norm(p=1, dim=0), [(3, 4)], True),
    "norm_p3": (lambda lib, x: lib.norm(x, p=3), [(3, 4)], True),
    "norm_inf": (lambda lib, x: x.norm(p=float("inf"), dim=1), [(3, 4)], True),
    "mm": (lambda lib, a, b: a.mm(b), [(3, 4), (4, 2)], True),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), [(2, 3, 4), (2, 4, 5)], True),
    "einsum_matmul": (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)], True),
    "einsum_batched_list": (lambda lib, a, b: lib.einsum("bij,bjk->bik", [a, b]), [(2, 3, 4), (2, 4, 2)], True),
    "einsum_implicit": (lambda lib, a, b: lib.einsum("ij,kj", a, b), [(3, 4), (2, 4)], True),
    "einsum_outer": (lambda lib, a, b: lib.einsum("i,j->ij", a, b), [(3,), (4,)], True),
    "einsum_sum_away": (lambda lib, a: lib.einsum("ijk->j", a), [(2, 3, 4)], True),
    "einsum_diagonal": (lambda lib, a: lib.einsum("ii->i", a), [(3, 3)], True),
    "einsum_trace_times": (lambda lib, a, b: lib.einsum("ii,j->j", a, b), [(3, 3), (2,)], True),
    "einsum_ellipsis_broadcast": (lambda lib, a, b: lib.einsum("...ij,...jk->...ik", a, b),
                                  [(2, 1, 3, 4), (3, 4, 2)], True),
    "einsum_three_operands": (lambda lib, a, b, c: lib.einsum("bi,ij,bj->b", a, b, c), [(2, 3), (3, 4), (2, 4)], True),
    "view_as": (lambda lib, x, y: x.view_as(y) * y, [(2, 6), (3, 4)], True),
    "argsort": (lambda lib, x: (x.argsort(dim=0), lib.argsort(x, descending=True)), [(4, 3)], False),
    "unbind": (lambda lib, x: x.unbind(1), [(2, 3)], True),
    "narrow": (lambda lib, x: lib.narrow(x, 1, 1, 2), [(3, 4)], True),
    "masked_select_broadcast": (lambda lib, x, y: x.masked_select(y > 0), [(3, 4), (4,)], True),
    "roll_dims": (lambda lib, x: x.roll((1, -2), (0, 1)), [(3, 4)], True),
    "roll_flat": (lambda lib, x: lib.roll(x, 5), [(3, 4)], True),
    "tile": (lambda lib, x: x.tile(2) + lib.tile(x, (1, 2)), [(3, 2)], True),
    "tril_triu": (lambda lib, x: (x.tril(), lib.triu(x, 1), x.tril(-1)), [(2, 3, 4)], True),
    "nonzero": (lambda lib, x: (lib.nonzero(x > 0), *x.gt(0).nonzero(as_tuple=True)), [(3, 4)], False),
    "logsumexp": (lambda lib, x: (x.logsumexp(1), lib.logsumexp(x * 50, dim=(0, 1), keepdim=True)), [(3, 4)], True),
    "sin_cos_log1p": (lambda lib, x: x.sin() * lib.cos(x) + x.abs().log1p(), [(3, 4)], True),
    "square_reciprocal_rsqrt": (lambda lib, x: x.square() + lib.reciprocal(x) + x.abs().rsqrt(), [(3, 4)], True),
    "rounding": (lambda lib, x: (x * 3).floor() + lib.ceil(x * 3) + (x * 3).round() + lib.trunc(x * 3) + x.sign() + x,
                 [(3, 4)], True),
    "outer_dot": (lambda lib, a, b: (lib.outer(a, b), a.dot(b[:3])), [(3,), (4,)], True),
    "comparisons": (lambda lib, x, y: (lib.eq(x, x), lib.ne(x, y), lib.lt(x, y), lib.le(x, 0.5), lib.gt(x, y),
                                       lib.ge(y, x)), [(3, 4), (4,)], False),
    "isnan_isinf_isfinite": (lambda lib, x: (lib.isnan(x), x.isinf(), lib.isfinite(x)), [(3, 4)], False),
    "all_any": (lambda lib, x: ((x > -1).all(), (x > 1).any(dim=1), lib.all(x > 0, dim=0)), [(3, 4)], False),
    "isclose": (lambda lib, x, y: lib.isclose(x, x + y * 1e-7), [(3, 4), (3, 4)], False),
}


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _run(lib, fn, arrays, weights=None):
    """Outputs as arrays, and the input gradients of sum(weights_i * float output_i)."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = _outputs(fn(lib, *inputs))
    floats = [o for o in outs if o.dtype in (lib.float64, lib.float32) and o.requires_grad]
    if floats:
        weights = weights or [np.linspace(-1, 1, o.numel()).reshape(tuple(o.shape)) for o in floats]
        sum((o * lib.tensor(w)).sum() for o, w in zip(floats, weights)).backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in inputs]
    return [o.detach().numpy() for o in outs], grads


@pytest.mark.parametrize("name", list(OPS))
def test_matches_torch_and_gradchecks(name):
    fn, shapes, differentiable = OPS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.uniform(0.1, 2.0, s) * rng.choice([-1, 1], s) for s in shapes]  # no ties, no zeros
    if name == "isnan_isinf_isfinite":
        arrays[0].flat[:3] = [np.inf, -np.inf, np.nan]
    (ours, our_grads), (theirs, their_grads) = _run(ttrain, fn, arrays), _run(torch, fn, arrays)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype, f"{a.shape} {a.dtype} vs torch {b.shape} {b.dtype}"
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for g, h in zip(our_grads, their_grads):
        assert (g is None) == (h is None)
        if g is not None:
            np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-12)
    if differentiable:
        assert gradcheck(lambda *t: fn(ttrain, *t), [ttrain.tensor(a, requires_grad=True) for a in arrays])


def test_float32_stays_float32():
    x = ttrain.randn(3, 4, requires_grad=True)
    outs = (x.sort(1).values, x.topk(2).values, x.flip(0), x.repeat(2, 1), x.cumsum(1), x.norm(),
            x.masked_fill(x > 0, 0.5), ttrain.einsum("ij,kj->ik", x, x), x.scatter(1, x.argmax(1, keepdim=True), 2.0))
    for out in outs:
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_norm_of_zeros_has_a_zero_gradient_as_in_torch():
    x = ttrain.zeros(3, requires_grad=True)
    x.norm().backward()
    assert x.grad.numpy().tolist() == [0.0, 0.0, 0.0]


def test_unique_matches_torch():
    data = np.array([[3, 1, 3], [2, 1, 0]])
    ours = ttrain.unique(ttrain.tensor(data), return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(data), return_inverse=True, return_counts=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert ttrain.tensor(data).unique().tolist() == [0, 1, 2, 3]
    rows = ttrain.unique(ttrain.tensor([[1, 2], [0, 5], [1, 2]]), dim=0)
    assert rows.tolist() == torch.unique(torch.tensor([[1, 2], [0, 5], [1, 2]]), dim=0).tolist()


def test_equal_allclose_and_the_new_factories():
    x = ttrain.tensor([[1.0, 2.0]], dtype=ttrain.float64)
    assert x.equal(ttrain.tensor([[1.0, 2.0]], dtype=ttrain.float64)) is True
    assert ttrain.equal(x, ttrain.tensor([1.0, 2.0])) is False  # shapes differ
    assert x.allclose(x + 1e-9) is True and ttrain.allclose(x, x + 1e-3) is False
    made_by = ((x.new_zeros(2, 3), (2, 3), 0), (x.new_ones((4,)), (4,), 1), (x.new_full((2,), 7), (2,), 7))
    for made, shape, fill in made_by:
        assert made.dtype == np.float64 and made.shape == shape and (made == fill).all()
    assert x.new_tensor([1, 2]).dtype == np.float64 and x.new_empty(5).shape == (5,)
    assert ttrain.empty(2, 3).shape == (2, 3) and ttrain.empty_like(x).dtype == np.float64
    assert ttrain.as_tensor(x.numpy()).data is x.data  # shares memory, as torch.as_tensor does


def test_in_place_scatter_and_masked_fill():
    labels = ttrain.tensor([2, 0, 1])
    one_hot = ttrain.zeros(3, 4).scatter_(1, labels.unsqueeze(1), 1.0)
    assert one_hot.tolist() == torch.zeros(3, 4).scatter_(1, torch.tensor([[2], [0], [1]]), 1.0).tolist()
    x = ttrain.arange(6.0).reshape(2, 3)
    assert x.masked_fill_(x > 3, -1).tolist() == [[0, 1, 2], [3, -1, -1]]


@pytest.mark.parametrize("call, message", [
    (lambda: ttrain.randn(3).topk(4), "topk: k"),
    (lambda: ttrain.randn(3, 4).mm(ttrain.randn(3, 4)), "matmul|mm"),
    (lambda: ttrain.randn(2, 3).mm(ttrain.randn(3)), "mm: expects two matrices"),
    (lambda: ttrain.bmm(ttrain.randn(2, 3, 4), ttrain.randn(3, 4, 5)), "bmm"),
    (lambda: ttrain.randn(2, 3).repeat(2), "repeat"),
    (lambda: ttrain.randn(5).split([2, 2]), "sum to 5"),
    (lambda: ttrain.einsum("ij,jk->ik", ttrain.randn(2, 3)), "2 operands, 1 were given"),
    (lambda: ttrain.einsum("ij->i", ttrain.randn(2, 3, 4)), "name 2 dimensions"),
    (lambda: ttrain.randn(3, 4).index_select(1, ttrain.tensor([0.5])), "integer"),
])
def test_misuse_is_a_clear_error(call, message):
    with pytest.raises((ValueError, IndexError, RuntimeError, TypeError), match=message):
        call()


def test_small_conveniences():
    x = ttrain.arange(6.0).reshape(2, 3)
    assert x.type_as(ttrain.zeros(1, dtype=ttrain.float64)).dtype == np.float64 and x.half().dtype == np.float16
    assert x.is_floating_point() and not x.long().is_floating_point() and x.nelement() == ttrain.numel(x) == 6
    assert x.reshape_as(ttrain.zeros(3, 2)).shape == (3, 2) and ttrain.t(x).shape == (3, 2)
    w = ttrain.empty(1000)
    with ttrain.no_grad():
        assert w.uniform_(-2, 2, generator=ttrain.Generator(0)) is w
    assert -2 <= w.min().item() and w.max().item() < 2 and abs(w.mean().item()) < 0.2
    w.normal_(3.0, 0.5, generator=ttrain.Generator(1))
    assert abs(w.mean().item() - 3) < 0.1 and abs(w.std().item() - 0.5) < 0.05
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        ttrain.zeros(2, requires_grad=True).uniform_()
