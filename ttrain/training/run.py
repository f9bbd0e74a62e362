"""The jobs behind the CLI: fit a config into a run directory, evaluate or predict from a checkpoint."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttrain.config import Config, ConfigError, ConfigIssue, SourceMap, config_from_dict, dump_config
from ttrain.training.callbacks import MetricsLogger, ModelCheckpoint, ProgressReporter
from ttrain.training.checkpoint import CheckpointError, atomic_write_bytes, load_checkpoint
from ttrain.training.experiment import Experiment, build_datasets, build_experiment, build_model
from ttrain.training.predictions import Predictions
from ttrain.training.records import RunRecorder, utc_timestamp
from ttrain.training.result_outputs import check_result_extras, result_callbacks
from ttrain.training.resume import ResumeChoice, find_resume_checkpoint
from ttrain.training.rundir import create_run_dir
from ttrain.training.snapshot import load_model_state, restore_snapshot, save_snapshot
from ttrain.signals import StopSignals, signal_name
from ttrain.training.trainer import Trainer, TrainingInterrupted


def fit(
    config: Config,
    source: SourceMap | None = None,
    resume: Path | None = None,
    console: Any = None,
    overrides: Sequence[str] = (),
    callbacks: Sequence[Any] = (),
    world: Any = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Train `config` into a new run directory and return its JSON-able record.

    `world` (a `ttrain.distributed.World`): train data-parallel as one of its ranks; rank 0 does
    all of the above, the other ranks train alongside it and write nothing (see `_follow`).

    `resume` is a checkpoint to continue from, exactly, from the step after it (see
    `find_resume_checkpoint` for `auto` and run directories). `console` (a Rich Console) receives
    progress output (with `verbose`, a line per step too); None trains silently. `overrides` (the
    `--set` strings `config` was made with) go into the record. `callbacks` are added to the trainer as they are
    (`Trainer.add_callback`: their class's priority orders them). A stop signal (SIGINT, SIGTERM, SIGHUP) from the start of training
    to the summary saves `last` and raises `TrainingInterrupted` naming it.

    The record is written to `<run_dir>/summary.json` however the run ends (see
    `ttrain.training.records`): completed, failed or interrupted; an error raised once the run
    directory exists carries it as `error.run_dir`. The returned record is the completed one,
    with `status: "ok"` as every command's success says.
    """
    started, started_at = time.perf_counter(), utc_timestamp()
    from ttrain.distributed.faults import setup_stage

    parallel = None
    with setup_stage(world):  # under MPI, an error every rank meets here is reported once
        experiment = build_experiment(config, source)
        check_result_extras(config, source)
        if world is not None:
            from ttrain.distributed.data_parallel import make_data_parallel

            parallel = make_data_parallel(experiment, world, source)
        # Check the checkpoint before creating anything, so a bad one leaves no empty run behind.
        loaded = load_checkpoint(resume) if resume is not None else None
    if parallel is not None and not world.is_main:
        return _follow(experiment, parallel, resume, loaded, callbacks)
    try:
        run_dir = create_run_dir(config.trainer.output_dir, _run_name(config))
    except OSError as error:
        where = str(source.locate(["trainer", "output_dir"])) if source is not None else None
        raise ConfigError(ConfigIssue(path="trainer.output_dir", location=where, message=(
            f"cannot create a run directory in {config.trainer.output_dir}: {error.strerror or error}"))) from None
    (run_dir / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    checkpoint = add_run_callbacks(experiment, run_dir, console,
                                   save_fn=parallel.save if parallel is not None else None, verbose=verbose)
    trainer = experiment.trainer
    for callback in callbacks:
        trainer.add_callback(callback)
    if resume is not None:
        try:
            metadata = restore_snapshot(resume, experiment, loaded)
            if parallel is not None:
                parallel.after_restore(metadata)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # holds only config.yaml: no empty run left behind
            raise
        _carry_best(resume, checkpoint)
    recorder = RunRecorder(run_dir, config, overrides, resume, started, started_at)
    try:
        record = _train(experiment, checkpoint, recorder)
    except (Exception, KeyboardInterrupt) as error:
        _record_failure(recorder, error, trainer, checkpoint)
        raise
    return {**record, "status": "ok"}


def _train(experiment: Experiment, checkpoint: ModelCheckpoint, recorder: RunRecorder) -> dict[str, Any]:
    """Fit, then write the completed run's record; its signal handling is `fit`'s."""
    trainer = experiment.trainer
    # The trainer handles the signals while it fits; this outer scope catches one that comes
    # after it returns, while the record is made, so that too ends in a checkpoint and 128+n.
    with StopSignals(trainer.request_stop):
        try:
            trainer.fit(experiment.train_loader, experiment.eval_loaders)
        except TrainingInterrupted as error:
            raise _naming_checkpoint(error, checkpoint) from None
        record = recorder.record("completed", trainer, checkpoint)
        recorder.write(record)
        if trainer.stop_signal is not None:
            checkpoint.on_interrupt(trainer)
            late = TrainingInterrupted(
                f"interrupted by {signal_name(trainer.stop_signal)} after training ended", trainer.stop_signal)
            raise _naming_checkpoint(late, checkpoint) from None
    return record


def _record_failure(recorder: RunRecorder, error: BaseException, trainer: Trainer, checkpoint: ModelCheckpoint) -> None:
    """Write the record of a run that `error` ended (as far as the disk allows) and tag `error` with its directory."""
    from ttrain.error_report import error_report, internal_report

    status = "interrupted" if isinstance(error, (TrainingInterrupted, KeyboardInterrupt)) else "failed"
    recorder.write_quietly(recorder.record(status, trainer, checkpoint, error_report(error) or internal_report(error)))
    with contextlib.suppress(AttributeError):  # an exception type with __slots__ cannot carry it
        error.run_dir = recorder.run_dir  # type: ignore[attr-defined]


def _follow(experiment: Experiment, parallel: Any, resume: Path | None, loaded: Any,
            callbacks: Sequence[Any]) -> dict[str, Any]:
    """A data-parallel rank other than 0: the same steps, evaluations and checkpoint saves as rank
    0 (each save is collective; rank 0 writes the file), but no run directory and no output.
    Returns `final`, the last epoch's metrics (reduced over the ranks: rank 0's), for `--expect`."""
    trainer = experiment.trainer
    trainer.add_callback(checkpoint_writer(experiment, Path("checkpoints"), parallel.save))
    for callback in callbacks:
        trainer.add_callback(callback)
    if resume is not None:
        parallel.after_restore(restore_snapshot(resume, experiment, loaded))
    trainer.fit(experiment.train_loader, experiment.eval_loaders)
    return {"status": "ok", "final": trainer.history[-1] if trainer.history else {}}


def checkpoint_writer(experiment: Experiment, directory: Path, save_fn: Any = None) -> ModelCheckpoint:
    """The `ModelCheckpoint` the config asks for, saving into `directory` with `save_fn(path,
    trainer)` (default: `save_snapshot` of the experiment)."""
    config = experiment.config
    return ModelCheckpoint(
        directory,
        save_fn or (lambda path, _trainer: save_snapshot(path, experiment)),
        experiment.monitor,
        experiment.monitor_mode,
        save_last=config.checkpoint.save_last,
        save_best=config.checkpoint.save_best,
        every_n_epochs=config.checkpoint.every_n_epochs,
        every_n_steps=config.checkpoint.every_n_steps,
    )


def add_run_callbacks(experiment: Experiment, run_dir: Path, console: Any = None,
                      save_fn: Any = None, verbose: bool = False) -> ModelCheckpoint:
    """Give the experiment's trainer what a run directory needs: metric files, the outputs the
    config asks for (TensorBoard, curves.png), progress output on `console` (when given;
    `verbose`: a line per step) and checkpoints (`save_fn`: see `checkpoint_writer`); returns the
    checkpoint writer. Their classes' priorities order them among the trainer's other callbacks:
    the checkpoint writer runs last."""
    config = experiment.config
    checkpoint = checkpoint_writer(experiment, run_dir / "checkpoints", save_fn)
    trainer = experiment.trainer
    trainer.add_callback(MetricsLogger(run_dir))
    for callback in result_callbacks(config, run_dir):  # TensorBoard, curves.png, when the config asks
        trainer.add_callback(callback)
    if console is not None:
        trainer.add_callback(ProgressReporter(console, log_every=config.trainer.log_every, verbose=verbose))
    trainer.add_callback(checkpoint)
    return checkpoint


def _run_name(config: Config) -> str:
    """The folder under trainer.output_dir that holds this config's numbered runs."""
    return config.name or "run"


def resume_checkpoint(config: Config, resume: str | Path) -> ResumeChoice:
    """The checkpoint `fit --resume` names (a file, a run directory, or `auto`: the newest valid
    one among this config's runs), with the damaged ones passed over (see `find_resume_checkpoint`)."""
    return find_resume_checkpoint(resume, config.trainer.output_dir, _run_name(config))


def _naming_checkpoint(error: TrainingInterrupted, checkpoint: ModelCheckpoint) -> TrainingInterrupted:
    """`error`, saying where the checkpoint to resume from is."""
    if not checkpoint.last_path.exists():
        return error
    return TrainingInterrupted(
        f"{error}; the model so far is saved in {checkpoint.last_path} (continue with --resume)", error.signal_number)


def _carry_best(resumed: Path, checkpoint: ModelCheckpoint) -> None:
    """Start a resumed run with the best checkpoint so far, so its `best` exists even if no later
    epoch beats it (the one beside the resumed checkpoint, when it is the epoch the state says)."""
    previous = Path(resumed).with_name("best.safetensors")
    if checkpoint.best_epoch is None or not checkpoint.save_best or not previous.is_file():
        return
    try:
        _, metadata = load_checkpoint(previous)
    except CheckpointError:
        return  # a damaged old `best` is not carried; the next improvement writes a new one
    if metadata["epoch"] == checkpoint.best_epoch:
        atomic_write_bytes(checkpoint.best_path, previous.read_bytes())


def _config_of(path: Path, metadata: dict[str, Any], data_overrides: list[str], trust_modules: Sequence[str]) -> Config:
    """The checkpoint's embedded config, validated as data: it may name only registered components
    and the modules in `trust_modules`, which are imported from the working directory and sys.path."""
    from ttrain.config.overrides import apply_overrides

    data = metadata["config"]
    if data_overrides:
        from ttrain.config.loader import Location

        apply_overrides(data, [f"data.{o}" for o in data_overrides], SourceMap(Location("--data")))
    return config_from_dict(data, where=f"{path} (embedded config)", trusted=frozenset(trust_modules))


def load_for_inference(
    path: Path, data_overrides: Sequence[str] = (), trust_modules: Sequence[str] = ()
) -> tuple[Config, Any, dict[str, Any], dict[str, Any]]:
    """Rebuild a checkpoint's model from its embedded config alone: (config, model, datasets, metadata).

    The config may name user code (`package.module:Name`) only from the modules in `trust_modules`.
    """
    path = Path(path)
    tensors, metadata = load_checkpoint(path)
    config = _config_of(path, metadata, list(data_overrides), trust_modules)
    datasets = build_datasets(config)
    train_set = datasets["train"]
    _check_vocabulary(path, metadata, train_set)
    from ttrain.random import manual_seed

    manual_seed(config.seed)
    model = build_model(config, tuple(train_set.input_shape), getattr(train_set, "num_classes", None))
    load_model_state(path, model, tensors)
    model.eval()
    return config, model, datasets, metadata


def _check_vocabulary(path: Path, metadata: dict[str, Any], dataset: Any) -> None:
    """A text model's characters must index the rebuilt data as they did in training: an edited text
    file with other characters would feed the model indices that mean other characters."""
    saved = (metadata.get("text") or {}).get("vocabulary")
    rebuilt = getattr(dataset, "vocabulary", None)
    if saved is not None and rebuilt is not None and saved != rebuilt:
        from ttrain.data.errors import DataError

        added, lost = sorted(set(rebuilt) - set(saved)), sorted(set(saved) - set(rebuilt))
        raise DataError(f"the text data now has other characters than the ones {path} was trained on "
                        f"(new: {''.join(added)!r}, gone: {''.join(lost)!r}): its model cannot read it")


def load_text_model(path: Path, trust_modules: Sequence[str] = ()) -> tuple[Config, Any, str, int]:
    """A character model from its checkpoint alone, without its text file: (config, model in eval
    mode, vocabulary, training window length). `trust_modules`: see load_for_inference."""
    path = Path(path)
    tensors, metadata = load_checkpoint(path)
    text = metadata.get("text")
    if (not isinstance(text, dict) or not isinstance(text.get("vocabulary"), str) or not text["vocabulary"]
            or not isinstance(text.get("seq_len"), int) or text["seq_len"] < 1):
        raise CheckpointError(f"{path}: not a character model: it holds no vocabulary (train one on `data: {{name: text}}`)")
    config = _config_of(path, metadata, [], trust_modules)
    from ttrain.random import manual_seed

    manual_seed(config.seed)
    vocabulary, seq_len = text["vocabulary"], text["seq_len"]
    model = build_model(config, (seq_len,), len(vocabulary))
    load_model_state(path, model, tensors)
    model.eval()
    return config, model, vocabulary, seq_len


def evaluate(
    path: Path, split: str = "test", data_overrides: Sequence[str] = (), trust_modules: Sequence[str] = ()
) -> dict[str, Any]:
    """Loss and metrics of a checkpoint's model on a split of its data (`trust_modules`: see load_for_inference)."""
    from ttrain.config import build
    from ttrain.data import DataLoader
    from ttrain.training.experiment import metric_names

    config, model, datasets, metadata = load_for_inference(path, data_overrides, trust_modules)
    if split not in datasets:
        hint = " (the run had no trainer.val_split)" if split == "val" else ""
        raise CheckpointError(f"{path}: no {split!r} split to evaluate{hint}; available: {', '.join(datasets)}")
    if len(datasets[split]) == 0:
        from ttrain.data.errors import DataError

        raise DataError(f"the {split} split of {config.data.name} is empty: nothing to evaluate")
    loss_fn = build("losses", config.loss, base_dir=config.base_dir)
    trainer = Trainer(model, loss_fn, optimizer=None, metrics=metric_names(config))
    started = time.perf_counter()
    metrics = trainer.evaluate(DataLoader(datasets[split], batch_size=config.trainer.eval_batch_size), prefix=split)
    return {
        "status": "ok",
        "checkpoint": str(path),
        "split": split,
        "epoch": metadata.get("epoch"),
        "samples": len(datasets[split]),
        "metrics": metrics,
        "seconds": time.perf_counter() - started,
    }


def predictions(path: Path, inputs: Sequence[Path], trust_modules: Sequence[str] = ()) -> Predictions:
    """Class probabilities of a checkpoint's model for the samples in ``inputs`` (the files
    `ttrain.data.predict_inputs` reads), normalised as its training data was. `trust_modules`: see
    load_for_inference."""
    from ttrain.autograd.creation import from_numpy
    from ttrain.autograd.grad_mode import no_grad
    from ttrain.data.predict_inputs import TableFormat, read_inputs
    from ttrain.nn.loss import class_probabilities
    from ttrain.training.experiment import build_loss

    config, model, datasets, _ = load_for_inference(path, trust_modules=trust_modules)
    reference = datasets["test"]
    read = read_inputs(inputs, tuple(reference.features.shape[1:]), TableFormat.of(config.data.kwargs))
    raw = read.samples.astype(reference.features.dtype, copy=False)
    features = reference.transform(raw) if reference.transform is not None else raw
    outputs = []
    with no_grad():
        for start in range(0, len(features), 1024):
            batch = np.ascontiguousarray(features[start : start + 1024], dtype=np.float32)
            outputs.append(model(from_numpy(batch)).data)
    loss_fn = build_loss(config)  # its class says what the outputs are (logits, log-probabilities, ...)
    probabilities = class_probabilities(loss_fn, np.concatenate(outputs)).astype(np.float32)
    return Predictions(probabilities, read.files, read.rows)


def predict(
    path: Path, inputs: Path | Sequence[Path], output: Path | None = None, overwrite: bool = False,
    trust_modules: Sequence[str] = (),
) -> dict[str, Any]:
    """`predictions` for the files ``inputs``, saved to ``output`` (CSV for ``.csv``, else .npz;
    see ``ttrain.training.predictions``). An existing ``output`` is an error unless ``overwrite``;
    None: a fresh ``<first input>.predictions[-n].npz``, never one that exists."""
    from ttrain.training.predictions import default_output, refuse_existing, save_predictions

    files = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    if output is not None:
        refuse_existing(output, overwrite)  # before the work, as well as when writing
    result = predictions(path, files, trust_modules)
    target = output if output is not None else default_output(files[0])
    save_predictions(result, target, overwrite, claimed=output is None)
    return {"status": "ok", "checkpoint": str(path), "inputs": " ".join(map(str, files)),
            "files": [str(f) for f in files], "output": str(target), "samples": len(result.probabilities)}
