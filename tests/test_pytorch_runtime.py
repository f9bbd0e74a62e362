"""Devices, the accelerator checks, thread counts and inference_mode: what a PyTorch script asks first."""

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.devices import DeviceError


def test_the_cpu_device_is_accepted_everywhere():
    cpu = ttrain.device("cpu")
    assert cpu == ttrain.device("cpu:0").type == "cpu" and str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    assert cpu == "cpu" and ttrain.device(cpu) == cpu
    x = ttrain.randn(2, 3, device=cpu)
    assert x.device == cpu and not x.is_cuda and x.cpu() is x
    assert x.to("cpu") is x and x.to(cpu) is x and x.to(device="cpu", non_blocking=True) is x
    assert x.to("cpu", ttrain.float64).dtype == np.float64
    assert x.to(ttrain.zeros(1, dtype=ttrain.float16)).dtype == np.float16
    assert x.to(ttrain.long).dtype == np.int64 and x.type(ttrain.double).dtype == np.float64 and x.type() == "float32"
    assert x.to("cpu", copy=True) is not x
    for make in (ttrain.zeros, ttrain.ones, ttrain.empty, ttrain.randn, ttrain.rand):
        assert make(2, device="cpu").shape == (2,)
    assert ttrain.tensor([1, 2], device=cpu).device == cpu and ttrain.arange(3, device="cpu").tolist() == [0, 1, 2]
    model = nn.Linear(2, 2)
    weight = model.weight
    assert model.to(cpu) is model and model.to("cpu", ttrain.float64) is model and model.weight is weight
    assert weight.dtype == np.float64 and model.cpu() is model


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps"])
def test_accelerators_are_a_clear_error(name):
    with pytest.raises(DeviceError, match="ttrain runs on the CPU only"):
        ttrain.device(name)
    with pytest.raises(DeviceError, match="CPU only"):
        ttrain.zeros(2).to(name)
    with pytest.raises(DeviceError, match="CPU only"):
        nn.Linear(2, 2).to(name)
    with pytest.raises(DeviceError, match="CPU only"):
        ttrain.zeros(2, device=name)


def test_scripts_take_their_cpu_path():
    assert ttrain.cuda.is_available() is False and ttrain.cuda.device_count() == 0
    ttrain.cuda.manual_seed(1)  # as harmless as in PyTorch without a GPU
    assert ttrain.backends.mps.is_available() is False
    ttrain.backends.cudnn.deterministic = True
    assert ttrain.accelerator.is_available() is False
    device = ttrain.device("cuda" if ttrain.cuda.is_available() else "cpu")
    assert device.type == "cpu"
    with pytest.raises(DeviceError, match="unknown device type"):
        ttrain.device("tpu")


def test_inference_mode_records_no_graph_in_every_form():
    x = ttrain.ones(2, requires_grad=True)
    with ttrain.inference_mode():
        assert not (x * 2).requires_grad and ttrain.is_inference_mode_enabled()
    with ttrain.inference_mode(False):
        assert (x * 2).requires_grad

    @ttrain.inference_mode()
    def called(t):
        return t * 2

    @ttrain.inference_mode
    def bare(t):
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad and (x * 2).requires_grad


def test_thread_counts_size_numba_and_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = ttrain.get_num_threads()
    try:
        ttrain.set_num_threads(1)
        assert ttrain.get_num_threads() == 1
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert all(p["num_threads"] == 1 for p in blas)
    finally:
        ttrain.set_num_threads(before)
    assert ttrain.get_num_threads() == before
    with pytest.raises(ValueError, match="positive integer"):
        ttrain.set_num_threads(0)
