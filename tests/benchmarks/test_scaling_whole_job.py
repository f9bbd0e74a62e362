"""The runner's scaling curves and whole-job comparison: the points it times, the PNG and tables it draws,
and the two jobs it runs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from benchmarks import scaling, workloads_process
from benchmarks.report import _whole_job_table
from benchmarks.runner import thread_env
from benchmarks.workloads import build_ttrain_model


def _result(key: str, threads: int, ours: float, theirs: float) -> dict:
    return {"task": {"key": key}, "threads": threads,
            "samples_per_sec": {"ttrain": [ours, ours * 1.1, ours * 0.9], "torch": [theirs]}}


def test_scaling_points_cover_the_issue_ranges_and_take_similar_sample_counts() -> None:
    tasks = scaling.scaling_tasks()
    keys = {t.key for t in tasks}
    for model in ("mlp", "cnn"):
        assert {f"{model}_batch:{b}" for b in (16, 32, 64, 128, 256, 512)} <= keys
    assert {f"mlp_width:{w}" for w in (256, 512, 1024, 2048, 4096)} <= keys
    cnn = [t for t in tasks if t.key.startswith("cnn_batch")]
    samples = [t.steps * t.batch_size for t in cnn]
    assert max(samples) <= 3 * min(samples)
    assert all(t.frameworks == ("ttrain", "torch") and t.train for t in tasks)
    assert [t.frameworks for t in scaling.scaling_tasks(torch=False)][0] == ("ttrain",)


def test_width_models_match_their_names() -> None:
    net = build_ttrain_model("mlp_w1024")
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes[:4] == [(1024, 784), (1024,), (512, 1024), (512,)]
    assert [tuple(p.shape) for p in build_ttrain_model("mlp_w512").parameters()] == \
        [tuple(p.shape) for p in build_ttrain_model("mlp").parameters()]


def test_curves_tables_and_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = [_result(f"mlp_batch:{b}", t, 1000.0 * b * t, 800.0 * b) for b in (16, 64) for t in (1, 2)]
    results.append(_result("mlp_width:256", 1, 500.0, 1000.0))
    data = scaling.curves(results)
    assert data["mlp_batch"]["x"] == [16, 64]
    assert data["mlp_batch"]["series"]["ttrain, 2 thr"] == [32000.0, 128000.0]  # medians
    assert data["mlp_width"]["series"]["PyTorch, 1 thr"] == [1000.0]
    text = "\n".join(scaling.table(data))
    assert "| 16 |" in text and "2.50x" in text and "0.50x" in text  # ttrain/PyTorch at 2 thr, batch 16; width 256
    png = scaling.plot(data, tmp_path / "curves.png")
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width > 2 * height  # one panel per curve, side by side


def test_whole_job_runs_both_jobs_and_the_report_judges_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    config = tmp_path / "cnn.yaml"
    source = workloads_process.WHOLE_JOB_CONFIG.read_text(encoding="utf-8")
    config.write_text(source.replace("augment_shift: 2", "augment_shift: 2\n  train_size: 128\n  test_size: 128")
                      .replace("epochs: 8", "epochs: 1"), encoding="utf-8")
    monkeypatch.setattr(workloads_process, "WHOLE_JOB_CONFIG", config)
    whole = workloads_process.whole_job(1, thread_env(1), True, 1)
    assert whole["epochs"] == 1
    jobs = whole["jobs"]
    assert set(jobs) == {"ttrain fit configs/mnist_cnn.yaml", "PyTorch CNN script"}
    for job in jobs.values():
        assert job["error"] is None, job
        assert job["seconds"] > 0 and job["max_rss_mib"] > 50 and 0 < job["first_step"] < job["seconds"]
    report = {"whole_job": whole, "process_threads": 1}
    text = "\n".join(_whole_job_table(report))
    assert "less wall time" in text and "peak memory below PyTorch's" in text
