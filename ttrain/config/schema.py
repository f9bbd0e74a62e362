"""The typed config: pydantic models for every section, with defaults and range checks.

Sections are strict about value types: an integer key takes a YAML integer only (``epochs: true``
and ``batch_size: 32.0`` are errors), a boolean key only ``true``/``false``, and a float key any
finite number (``lr: 1`` is fine, ``lr: .inf`` and ``.nan`` are errors).

Component sections (``model``, ``data``, ``loss``, ``optimizer``, ``scheduler``, the items of
``model.layers`` and ``trainer.metrics``) are a registry ``name`` plus keyword arguments. Here
the keyword arguments are only collected (``extra="allow"``); ``ttrain.config.validate`` checks
them against the named class's constructor signature.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

Mode = Literal["min", "max"]
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Section(BaseModel):
    """A config section: unknown keys are errors, and values are taken as the types they are.

    Pydantic's lax mode would read ``true`` as 1 and ``32.0`` as 32, and accept ``.inf``: strict
    mode refuses them (an int still counts as a float). A field that must be converted from YAML's
    types (a ``Path`` from a string) opts out with ``Field(strict=False)``.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ComponentSpec(BaseModel):
    """A registered ``name`` (or ``package.module:Class``) and the keyword arguments for it."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, description="registered name, or package.module:ClassName")

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments: every key other than the section's own fields."""
        return dict(self.model_extra or {})


def _short_form(value: Any) -> Any:
    """``relu`` and ``{linear: {out_features: 10}}`` -> ``{name: ..., **kwargs}``."""
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict) and "name" not in value:
        if len(value) != 1:
            raise ValueError(f"expected one name with its arguments (like `linear: {{out_features: 10}}`), "
                             f"found {len(value)} keys: {', '.join(map(str, value))}")
        (name, kwargs), = value.items()
        if kwargs is None:
            return {"name": name}
        if not isinstance(kwargs, dict):
            raise ValueError(f"expected the arguments of {name!r} as a mapping (like `{name}: {{key: value}}`), "
                             f"found {kwargs!r}")
        return {"name": name, **kwargs}
    return value


def _to_short_form(spec: ComponentSpec) -> Any:
    return {spec.name: spec.kwargs} if spec.kwargs else spec.name


# A list item that is a bare name (`- relu`) or one name with its arguments (`- linear: {...}`).
NamedItem = Annotated[ComponentSpec, BeforeValidator(_short_form), PlainSerializer(_to_short_form)]


class ModelSpec(BaseModel):
    """Either a registered architecture (``name`` + kwargs) or a ``layers`` list."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(None, description="registered model, or package.module:ClassName")
    layers: list[NamedItem] | None = Field(
        None, description="layers in order, e.g. [{linear: {out_features: 512}}, relu]; input sizes are inferred")

    @model_validator(mode="after")
    def _name_or_layers(self) -> ModelSpec:
        if (self.name is None) == (self.layers is None):
            given = "both" if self.name is not None else "neither"
            raise ValueError(f"give either 'name' (a registered model) or 'layers' (a list of layers), found {given}")
        if self.layers is not None and not self.layers:
            raise ValueError("'layers' is empty: list at least one layer")
        return self

    @property
    def kwargs(self) -> dict[str, Any]:
        """The named model's keyword arguments."""
        return dict(self.model_extra or {})

    @model_serializer(mode="wrap")
    def _omit_unused_form(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A dumped model shows the form it uses: `name` + kwargs, or `layers`.
        data = handler(self)
        return {k: v for k, v in data.items() if not (k in ("name", "layers") and v is None)}


class WarmupConfig(Section):
    """Linear warm-up before the scheduler (LinearLR then the scheduler, via SequentialLR)."""

    iters: int = Field(ge=1, description="warm-up length in scheduler steps (epochs or batches, see interval)")
    start_factor: float = Field(0.1, gt=0, le=1, description="learning-rate factor at the first step")


class SchedulerSpec(ComponentSpec):
    """A learning-rate scheduler: registered name + kwargs, how often it steps, optional warm-up."""

    interval: Literal["epoch", "step"] | None = Field(
        None, description="step the scheduler every epoch or every batch (default: the scheduler class's default_interval)")
    monitor: str | None = Field(None, description="metric fed to a scheduler stepped with one (needs_metric, e.g. plateau), e.g. val.loss")
    warmup: WarmupConfig | None = None


class EarlyStoppingConfig(Section):
    """Stop when the monitored metric has not improved for ``patience`` epochs."""

    monitor: str | None = Field(None, description="metric to watch, e.g. val.loss (default: val.loss or train.loss)")
    mode: Mode | None = Field(None, description="min or max (default: min for a loss, else max)")
    patience: int = Field(5, ge=1, description="epochs without improvement before stopping")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")


def _none_is_default(value: Any) -> Any:
    # `trainer:` with nothing under it means "all defaults", not an error.
    return {} if value is None else value


class TrainerConfig(Section):
    """How to train: epochs, batches, validation, clipping, metrics, output."""

    epochs: int = Field(10, ge=1, description="passes over the training data")
    max_steps: int | None = Field(
        None, ge=1, description="stop once this many optimizer steps are done in all (even inside an epoch), "
        "save last and end normally; resuming with a larger value continues from there (default: no limit)")
    batch_size: int = Field(32, ge=1, description="training batch size")
    eval_batch_size: int | None = Field(
        None, ge=1, description="evaluation batch size (default: batch_size, at least 256)")
    shuffle: bool = Field(True, description="reshuffle the training data every epoch (seeded)")
    drop_last: bool = Field(False, description="drop the last incomplete training batch")
    val_split: float = Field(0.0, ge=0, lt=1, description="fraction of the training data held out for validation")
    metrics: list[NamedItem] = Field(default_factory=lambda: [ComponentSpec(name="accuracy")],
                                     description="metrics besides the loss, e.g. [accuracy, {top_k: {k: 5}}]")
    grad_clip: float | None = Field(None, gt=0, description="clip gradients to this norm (or value) before each step")
    grad_clip_algorithm: Literal["norm", "value"] = Field("norm", description="clip the total norm, or each value")
    early_stopping: EarlyStoppingConfig | None = None
    output_dir: Path = Field(Path("runs"), strict=False, description="runs are written to <output_dir>/<name>/<n>")
    log_every: int = Field(50, ge=1, description="update the progress display every this many batches")
    detect_anomaly: bool = Field(
        False, description="on a non-finite loss or gradient, also name the op that produced it (slower steps)")
    sync_batchnorm: bool = Field(
        False, description="under MPI (mpiexec -n N), batch norm normalises with the statistics of the whole global "
        "batch, reduced over the ranks, instead of each rank's share (default: per-rank statistics)")
    loggers: list[Literal["tensorboard"]] = Field(
        default_factory=list, description="where else the metrics go: [tensorboard] writes TensorBoard event files "
        "into the run directory (needs the tensorboard extra)")
    histograms: bool = Field(False, description="with the tensorboard logger, a histogram of every weight each epoch")
    save_curves: bool = Field(
        False, description="draw the run's loss and metric curves into <run_dir>/curves.png at the end (needs the plot extra)")

    @field_validator("histograms")
    @classmethod
    def _histograms_need_tensorboard(cls, value: bool, info: ValidationInfo) -> bool:
        # A field validator (loggers, declared above, is validated first): the error names this key's line.
        if value and "tensorboard" not in info.data.get("loggers", ["tensorboard"]):
            raise ValueError("histograms are written by the tensorboard logger: add loggers: [tensorboard]")
        return value


class CheckpointConfig(Section):
    """Which checkpoints to write: ``last`` every epoch, ``best`` by a monitored metric."""

    monitor: str | None = Field(None, description="metric that decides 'best', e.g. val.accuracy")
    mode: Mode | None = Field(None, description="min or max (default: min for a loss, else max)")
    save_last: bool = Field(True, description="write checkpoints/last.safetensors")
    save_best: bool = Field(True, description="write checkpoints/best.safetensors")
    every_n_epochs: int = Field(1, ge=1, description="save every this many epochs")
    every_n_steps: int | None = Field(
        None, ge=1, description="also write last every this many optimizer steps, from which a resumed run "
        "continues at the very next step (default: off)")


def _check_distribution(text: str) -> str:
    from ttrain.sweep.space import parse_distribution

    parse_distribution(text)  # a ValueError says what is wrong and which forms are allowed
    return text


def _check_grid_values(values: list[Any]) -> list[Any]:
    from ttrain.sweep.space import check_scalar

    for value in values:
        check_scalar(value)
    if len({repr(v) for v in values}) < len(values):
        raise ValueError(f"a value is given twice in {values!r}")
    return values


class SweepConfig(Section):
    """What ``ttrain sweep`` varies and how (``ttrain fit`` ignores it); see ``ttrain.sweep``."""

    grid: dict[str, Annotated[list[Any], Field(min_length=1), AfterValidator(_check_grid_values)]] | None = Field(
        None, description="key path -> values; every combination runs, e.g. {optimizer.lr: [0.1, 0.01], seed: [0, 1]}")
    params: dict[str, Annotated[str, AfterValidator(_check_distribution)]] | None = Field(
        None, description="key path -> loguniform(a,b), uniform(a,b), int(a,b[,step]) or choice(x,y,...), "
        "sampled for `trials` trials")
    trials: int | None = Field(None, ge=1, description="how many trials to sample from params (default 20)")
    sampler: Literal["tpe", "random"] = Field("tpe", description="how params are sampled (seeded with the config's seed)")
    monitor: str | None = Field(None, description="metric the trials are ranked by (default: checkpoint.monitor)")
    mode: Mode | None = Field(None, description="min or max (default: checkpoint.mode for its monitor, else min for a loss)")
    prune: Literal["none", "median", "hyperband"] = Field(
        "none", description="stop weak trials early on the monitor reported every epoch (Optuna's pruners)")
    repeat_seeds: int = Field(1, ge=1, description="run each parameter set with this many seeds (seed, seed+1, ...)")

    @model_validator(mode="after")
    def _grid_or_params(self) -> SweepConfig:
        if self.grid is not None and self.params is not None:
            raise ValueError("give either 'grid' (every combination) or 'params' (sampled), not both")
        return self


class Config(Section):
    """A whole experiment."""

    name: str | None = Field(None, description="run name (default: the config file's name)")
    seed: int = Field(0, ge=0, description="one seed for every random stream (init, shuffling, dropout)")
    model: ModelSpec
    data: ComponentSpec = Field(description="dataset: a registered name and its arguments")
    loss: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="cross_entropy"))
    optimizer: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="adam"))
    scheduler: SchedulerSpec | None = None
    trainer: Annotated[TrainerConfig, BeforeValidator(_none_is_default)] = Field(default_factory=TrainerConfig)
    checkpoint: Annotated[CheckpointConfig, BeforeValidator(_none_is_default)] = Field(default_factory=CheckpointConfig)
    # Only `ttrain sweep` reads it; a run's own config (config.yaml, checkpoints) leaves it out.
    sweep: SweepConfig | None = Field(None, exclude=True)

    _base_dir: Path | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path:
        """The config file's folder: user modules (``package.module:Class``) are imported from it."""
        return self._base_dir if self._base_dir is not None else Path.cwd()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        if value is not None and not _RUN_NAME.match(value):
            raise ValueError("expected a run name of letters, digits, '.', '_' and '-' (it names a folder), "
                             f"found {value!r}")
        return value


# The component sections: (section, registry category, the section model's own fields).
COMPONENT_SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "data": ("datasets", ComponentSpec),
    "loss": ("losses", ComponentSpec),
    "optimizer": ("optimizers", ComponentSpec),
    "scheduler": ("schedulers", SchedulerSpec),
}
