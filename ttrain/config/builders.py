"""Construct what a validated config names: ``target(*supplied, **kwargs)``.

The trainer calls these with the arguments only it has (an optimizer's parameters, a
scheduler's optimizer, a layer's inferred input size).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

from ttrain.config.registry import SEQUENTIAL_LR, import_object, resolve
from ttrain.config.schema import ComponentSpec, SchedulerSpec


def build(category: str, spec: ComponentSpec, *supplied: Any, base_dir: str | Path | None = None, **extra: Any) -> Any:
    """Call the target of ``spec.name`` in ``category`` with ``*supplied``, ``spec.kwargs`` and ``**extra``."""
    target = resolve(category, spec.name, base_dir)
    return target(*supplied, **spec.kwargs, **extra)


def build_scheduler(spec: SchedulerSpec, optimizer: Any, base_dir: str | Path | None = None) -> Any:
    """The scheduler of ``spec``; with ``warmup``, ``SequentialLR([LinearLR warm-up, scheduler])``."""
    scheduler = build("schedulers", spec, optimizer, base_dir=base_dir)
    if spec.warmup is None:
        return scheduler
    linear_lr, sequential_lr = resolve("schedulers", "linear"), import_object(SEQUENTIAL_LR)
    warmup = linear_lr(optimizer, start_factor=spec.warmup.start_factor, end_factor=1.0, total_iters=spec.warmup.iters)
    return sequential_lr(optimizer, schedulers=[warmup, scheduler], milestones=[spec.warmup.iters])


def build_metric(spec: ComponentSpec, base_dir: str | Path | None = None) -> Callable[..., Any]:
    """The metric function of ``spec`` with its kwargs bound: ``metric(outputs, targets)``."""
    function = resolve("metrics", spec.name, base_dir)
    return functools.partial(function, **spec.kwargs) if spec.kwargs else function
