"""The runner's conv layer table: GFLOP/s per layer and pass of the MNIST CNN, next to sgemm's."""

from __future__ import annotations

from benchmarks.conv_layers import LAYERS, PASSES
from benchmarks.report import render
from benchmarks.runner import Options, run


def test_conv_layers_reports_every_layer_and_pass_against_the_same_runs_sgemm() -> None:
    report = run(Options(["conv_layers"], repeats=2, steps=2, warmup=1, threads=[1], settle=0.0), log=lambda _: None)
    (measured,) = report["conv_layers"]
    assert measured["threads"] == 1 and measured["sgemm_gflops"] > 0
    assert [(r["layer"], r["pass"]) for r in measured["layers"]] == [(l[0], p) for l in LAYERS for p in PASSES]
    assert all(r["ms"] > 0 and r["gflops"] > 0 for r in measured["layers"])
    text = render(report)
    assert "### Conv layers of configs/mnist_cnn.yaml" in text
    assert "| conv2 32->64, 26x26 | weight grad |" in text and "| sgemm 1024³ |" in text
