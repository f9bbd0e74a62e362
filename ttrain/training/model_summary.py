"""The model a config or a checkpoint describes, built and summarised (`ttrain summary`)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ttrain.nn.summary import ModelSummary, summarize
from ttrain.training.checkpoint import SUFFIX as CHECKPOINT_SUFFIX


def summarize_source(path: Path, overrides: Sequence[str] = ()) -> ModelSummary:
    """The summary of the model in `path`: a checkpoint (its embedded config and weights, which
    need nothing else) or a config (built as `fit` would build it, with `overrides`), measured
    on one sample of the config's training data."""
    from ttrain.data import DataLoader

    path = Path(path)
    if path.suffix == CHECKPOINT_SUFFIX:
        from ttrain.training.run import load_for_inference

        _, model, datasets, _ = load_for_inference(path)
    else:
        from ttrain.config import load_config
        from ttrain.random import manual_seed
        from ttrain.training.experiment import build_datasets, build_model

        config, source = load_config(path, list(overrides))
        datasets = build_datasets(config, source)
        manual_seed(config.seed)
        train = datasets["train"]
        model = build_model(config, tuple(train.input_shape), getattr(train, "num_classes", None))
    inputs, _ = next(iter(DataLoader(datasets["train"], batch_size=1)))
    return summarize(model, inputs)
