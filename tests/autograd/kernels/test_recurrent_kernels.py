"""The fused recurrences: every Numba step held to its NumPy reference, the whole op (forward and
backward through time) held to the reference steps, and gradchecked in float64."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from ttrain.autograd.gradcheck import gradcheck
from ttrain.autograd.kernels import recurrent, recurrent_reference
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.ops.recurrent import recurrence

KINDS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
B, H = 3, 5
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}


def test_float32_tanh_is_within_4e_7_of_the_exact_one_and_float64_uses_libm():
    x = np.linspace(-12, 12, 200001)
    for dtype, bound in ((np.float64, 1e-15), (np.float32, 4e-7)):
        out = np.empty(x.size, dtype=dtype)
        recurrent.tanh_array(x.astype(dtype), out)
        assert np.abs(out - np.tanh(x.astype(dtype).astype(np.float64))).max() < bound
    assert out[0] == -1 and out[-1] == 1  # float32 saturates exactly, as float32 tanh does


def _step_operands(kind: str, dtype: type, seed: int) -> dict[str, np.ndarray]:
    steps = recurrent.STEPS[kind]
    rng = np.random.default_rng(seed)
    rows = steps.gates * H

    def draw(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 1.5).astype(dtype)

    return {"xp": draw(B, rows), "hp": draw(B, rows), "b_ih": draw(rows), "b_hh": draw(rows), "h_prev": draw(B, H),
            "c_prev": draw(B, H) if steps.has_cell else None, "dy": draw(B, H), "dh": draw(B, H),
            "dc": draw(B, H) if steps.has_cell else None}


def _run_step(steps, o: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    dtype, rows = o["xp"].dtype, o["xp"].shape[1]
    acts = np.zeros((B, steps.saved * H), dtype)
    h = np.zeros((B, H), dtype)
    c = np.zeros((B, H), dtype) if steps.has_cell else None
    steps.forward(o["xp"], o["hp"], o["b_ih"], o["b_hh"], o["h_prev"], o["c_prev"], acts, h, c)
    dh, dc = o["dh"].copy(), None if o["dc"] is None else o["dc"].copy()
    dgx = np.zeros((B, rows), dtype)
    dgh = np.zeros((B, rows), dtype) if steps.hidden_path_apart else dgx
    steps.backward(acts, o["h_prev"], o["c_prev"], h, o["dy"], dh, dc, dgx, dgh)
    out = {"acts": acts, "h": h, "c": c, "dgx": dgx, "dgh": dgh, "dc": dc}
    if steps.hidden_path_apart:  # the others leave dh for the W_hh GEMM to overwrite
        out["dh"] = dh
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_each_numba_step_matches_the_numpy_reference_forward_and_backward(kind, dtype):
    operands = _step_operands(kind, dtype, seed=KINDS.index(kind))
    ours = _run_step(recurrent.STEPS[kind], operands)
    reference = _run_step(recurrent_reference.STEPS[kind], operands)
    for name, value in ours.items():
        if value is not None:
            assert value.dtype == dtype, name
            np.testing.assert_allclose(value, reference[name], rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype],
                                       err_msg=name)


def _operands(kind: str, steps_: int, dtype: type, bias: bool, seed: int) -> list:
    steps = recurrent.STEPS[kind]
    rng = np.random.default_rng(seed)
    rows, inputs = steps.gates * H, 4

    def tensor(*shape: int) -> ttrain.Tensor:
        return ttrain.tensor((rng.standard_normal(shape) * 0.6).astype(dtype), requires_grad=True)

    return [tensor(steps_, B, inputs), tensor(B, H), tensor(B, H) if steps.has_cell else None,
            tensor(rows, inputs), tensor(rows, H), tensor(rows) if bias else None, tensor(rows) if bias else None]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_the_op_on_numba_steps_matches_it_on_the_reference_steps(kind, reverse):
    results = []
    for steps in (recurrent.STEPS[kind], recurrent_reference.STEPS[kind]):
        operands = _operands(kind, 6, np.float64, bias=True, seed=7)
        out = recurrence(kind, *operands, reverse=reverse, steps=steps)
        weights = np.random.default_rng(8).standard_normal(out.shape)
        (out * ttrain.tensor(weights)).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in operands if t is not None])
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_the_fused_op_gradchecks_in_float64(kind, reverse, bias):
    operands = _operands(kind, 4, np.float64, bias=bias, seed=11)
    present = [t for t in operands if t is not None]

    def run(*tensors):
        it = iter(tensors)
        return recurrence(kind, *[next(it) if t is not None else None for t in operands], reverse=reverse)

    assert gradcheck(run, present)


def test_the_lstm_op_packs_the_final_cell_state_after_the_outputs():
    operands = _operands("lstm", 5, np.float64, bias=True, seed=3)
    out = recurrence("lstm", *operands)
    assert out.shape == (6, B, H)
    reverse = recurrence("lstm", *operands, reverse=True)
    single = recurrence("lstm", operands[0][4:], *operands[1:])  # the last step alone, from h0/c0
    np.testing.assert_allclose(reverse.detach().numpy()[4], single.detach().numpy()[0])


def test_operands_that_do_not_fit_are_shape_errors_naming_the_op():
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _operands("lstm", 3, np.float64, bias=True, seed=0)
    with pytest.raises(ShapeError, match="recurrence \\(lstm\\)"):
        recurrence("lstm", x, h0, c0, w_hh, w_hh, b_ih, b_hh)
    with pytest.raises(ShapeError, match="needs c0"):
        recurrence("lstm", x, h0, None, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ShapeError, match="h0 of shape"):
        recurrence("lstm", x, h0[:1], c0, w_ih, w_hh, b_ih, b_hh)


def test_graphs_alive_together_keep_their_own_buffers():
    def run(seed):
        operands = _operands("gru", 4, np.float64, bias=True, seed=seed)
        return operands, recurrence("gru", *operands)

    alone = []
    for seed in (1, 2):
        operands, out = run(seed)
        out.sum().backward()
        alone.append((out.detach().numpy().copy(), operands[3].grad.numpy().copy()))
    together = [run(1), run(2)]  # both graphs and outputs alive: no scratch array may be shared
    for (operands, out), (value, grad) in zip(together, alone):
        out.sum().backward()
        np.testing.assert_array_equal(out.detach().numpy(), value)
        np.testing.assert_array_equal(operands[3].grad.numpy(), grad)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_kernel_threads_each_running_their_batch_rows_give_the_one_thread_result(kind):
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 Numba threads")
    results = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            operands = _operands(kind, 5, np.float64, bias=True, seed=21)
            out = recurrence(kind, *operands, reverse=True)
            (out * out).sum().backward()
            results.append([out.detach().numpy()] + [t.grad.numpy() for t in operands if t is not None])
    finally:
        numba.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)


class _StepByStepLSTM(recurrent.LSTMSteps):
    rows_gemm = None  # Python drives the time steps: one GEMM and one step kernel call each


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_rows_in_one_numba_call_give_the_step_by_step_result(dtype, reverse):
    if not recurrent.LSTMSteps.rows_gemm(np.dtype(dtype)):
        pytest.skip("NumPy's BLAS can't be called from Numba here: the op drives the steps itself")
    results = []
    for steps in (recurrent.STEPS["lstm"], _StepByStepLSTM()):
        operands = _operands("lstm", 6, dtype, bias=True, seed=5)
        out = recurrence("lstm", *operands, reverse=reverse, steps=steps)
        weights = np.random.default_rng(6).standard_normal(out.shape).astype(dtype)
        (out * ttrain.tensor(weights)).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in operands])
    tolerance = 1e-6 if dtype == np.float32 else 1e-12  # the same BLAS; tiny products may round apart
    for fused, stepped in zip(*results):
        np.testing.assert_allclose(fused, stepped, rtol=tolerance, atol=tolerance)
