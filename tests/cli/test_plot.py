"""`ttrain plot RUN...` and `trainer.save_curves`: learning curves of runs and sweeps as a PNG
(matplotlib) or in the terminal (plotext), one colour per run, labelled axes and a legend."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import SPIRALS, assert_fails

pytest.importorskip("matplotlib")
pytest.importorskip("plotext")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def two_runs(write_config, fit_json, out_dir: Path) -> Path:
    """Two runs of the spirals config that differ in their learning rate; returns the folder of runs."""
    config = write_config()
    for lr in ("0.1", "0.02"):
        fit_json(config, "-q", "--set", f"optimizer.lr={lr}")
    return out_dir / "spirals"


def test_a_png_of_several_runs_has_one_colour_per_run(two_runs: Path, cli, tmp_path: Path) -> None:
    from matplotlib import colormaps
    from matplotlib.image import imread

    result = cli("plot", two_runs / "1", two_runs / "2", "-o", tmp_path / "curves.png")
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stdout and "2 runs: loss, accuracy" in result.stdout
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_MAGIC)
    pixels = imread(tmp_path / "curves.png")[..., :3]
    for i in range(2):  # each run's colour (tab10's first two) is drawn
        colour = colormaps["tab10"](i)[:3]
        assert (abs(pixels - colour).max(axis=-1) < 0.02).sum() > 200, colour


def test_the_figure_labels_axes_and_names_each_run_in_its_colour(two_runs: Path) -> None:
    from ttrain.plot import panels, read_runs
    from ttrain.plot.png import draw_figure

    runs = read_runs([two_runs])
    assert [run.label for run in runs] == ["optimizer.lr=0.1", "optimizer.lr=0.02"]  # what differs between them
    figure = draw_figure(runs, panels(runs))
    loss, accuracy = figure.axes
    assert (loss.get_xlabel(), loss.get_ylabel(), accuracy.get_ylabel()) == ("epoch", "loss", "accuracy")
    legend_texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend_texts == ["optimizer.lr=0.1", "optimizer.lr=0.02"]
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train", "val"]  # the line styles' key
    colours = {}
    for line in loss.get_lines():
        run, metric = line.get_label().rsplit(" ", 1)
        colours.setdefault(run, set()).add(line.get_color())
        assert line.get_linestyle() == {"train.loss": "-", "val.loss": "--"}[metric]
    assert all(len(c) == 1 for c in colours.values()) and len(set.union(*colours.values())) == 2
    assert len(loss.get_lines()) == 4  # train and val of each run; test is left out beside val


def test_metric_picks_one_curve_and_an_unknown_one_names_the_closest(two_runs: Path, cli, tmp_path: Path) -> None:
    from ttrain.plot import panels, read_runs

    assert [(p.title, p.metrics) for p in panels(read_runs([two_runs]), ["val.accuracy", "loss"])] == [
        ("val.accuracy", ("val.accuracy",)), ("loss", ("train.loss", "val.loss"))]
    from ttrain.plot.png import draw_figure

    runs = read_runs([two_runs])
    one_split = draw_figure(runs, panels(runs, ["val.accuracy", "lr"]))
    assert one_split.axes[0].get_legend() is None  # no line-style key: one split only (lr is none)
    assert [t.get_text() for t in one_split.legends[0].get_texts()] == ["optimizer.lr=0.1", "optimizer.lr=0.02"]
    result = cli("plot", two_runs, "--metric", "val.acuracy", "-o", tmp_path / "x.png")
    assert_fails(result, 2, "val.acuracy", "did you mean 'val.accuracy'")
    assert not (tmp_path / "x.png").exists()


def test_a_path_without_runs_or_a_non_png_output_is_bad_input(two_runs: Path, cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_fails(cli("plot", tmp_path / "empty"), 2, "not a run directory")
    failed = two_runs / "3"  # a run that failed before its first epoch: no curve, left out of a folder's plot
    failed.mkdir()
    (failed / "config.yaml").write_text("name: spirals\n")
    (failed / "metrics.jsonl").write_text("")
    assert_fails(cli("plot", failed), 2, "no run there has logged an epoch")
    from ttrain.plot import read_runs

    assert [run.run_dir.name for run in read_runs([two_runs])] == ["1", "2"]
    assert_fails(cli("plot", tmp_path / "missing"), 2, "missing")
    result = cli("plot", two_runs, "-o", tmp_path / "curves.pdf")
    assert result.exit_code == 2 and "PNG" in result.stderr


def test_terminal_draws_the_curves_and_a_key_as_text(two_runs: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    result = cli("plot", two_runs, "--terminal")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out  # NO_COLOR: no escape codes at all
    assert "loss" in out and "accuracy" in out and "epoch" in out
    key = out.splitlines()[-4:]  # one character per run and split, as drawn
    assert [line.split(" ", 1)[1] for line in key] == [
        "optimizer.lr=0.1 train", "optimizer.lr=0.1 val", "optimizer.lr=0.02 train", "optimizer.lr=0.02 val"]
    assert len({line.split(" ", 1)[0] for line in key}) == 4


def test_colour_in_the_terminal_unless_told_not_to(two_runs: Path, monkeypatch) -> None:
    from ttrain.plot import panels, read_runs
    from ttrain.plot.terminal import render, wants_colour

    runs = read_runs([two_runs])
    text = render(runs, panels(runs), width=100, colour=True)
    assert "\x1b[38;5;" in text and "optimizer.lr=0.02" in text
    assert max(len(line) for line in render(runs, panels(runs), width=100, colour=False).splitlines()) <= 100
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert wants_colour()
    monkeypatch.setenv("TERM", "dumb")
    assert not wants_colour()


def test_without_matplotlib_plot_draws_in_the_terminal(two_runs: Path, cli, monkeypatch, tmp_path: Path) -> None:
    import ttrain.plot

    monkeypatch.setattr(ttrain.plot, "have_matplotlib", lambda: False)
    result = cli("plot", two_runs, "-o", tmp_path / "curves.png")
    assert result.exit_code == 0
    assert "matplotlib is not installed" in result.stderr and "ttrain[plot]" in result.stderr
    assert "optimizer.lr=0.1" in result.stdout and not (tmp_path / "curves.png").exists()


def test_a_sweep_directory_plots_each_trial_labelled_by_its_values(write_config, cli, out_dir: Path,
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    config = write_config()
    result = cli("sweep", config, "--grid", "optimizer.lr=0.1,0.03,0.01", "--set", f"trainer.output_dir={out_dir}",
                 "--set", "trainer.epochs=3")
    assert result.exit_code == 0, result.stderr
    (sweep_dir,) = (out_dir / "spirals-sweep").iterdir()
    from ttrain.plot import read_runs

    assert sorted(run.label for run in read_runs([sweep_dir])) == [
        "optimizer.lr=0.01", "optimizer.lr=0.03", "optimizer.lr=0.1"]
    result = cli("plot", sweep_dir, "-o", tmp_path / "sweep.png")
    assert result.exit_code == 0 and "3 runs" in result.stdout


def test_fit_saves_curves_png_in_the_run_directory_when_asked(write_config, fit_json) -> None:
    asked = Path(fit_json(write_config(), "--set", "trainer.save_curves=true")["run_dir"])
    assert (asked / "curves.png").read_bytes().startswith(PNG_MAGIC)
    assert not (Path(fit_json(write_config())["run_dir"]) / "curves.png").exists()  # off by default


def test_save_curves_without_matplotlib_is_a_config_error(write_config, cli, out_dir: Path, monkeypatch) -> None:
    from ttrain.training import result_outputs

    monkeypatch.setattr(result_outputs, "installed", lambda module: module != "matplotlib")
    config = write_config(SPIRALS + "  save_curves: true\n")
    assert_fails(cli("fit", config, "--set", f"trainer.output_dir={out_dir}"), 2, "spirals.yaml:24",
                 "pip install 'ttrain[plot]'")
