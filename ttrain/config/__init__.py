"""Experiment configs: YAML with line numbers, ``--set`` overrides, the typed schema, the registry.

    config, source = load_config("configs/mnist_mlp.yaml", ["optimizer.lr=1e-3"])

Every mistake in a config is a ConfigError listing each problem with its key path, ``file:line``
and, for a misspelt key or name, the closest valid one.
"""

from ttrain.config.api import config_from_dict, config_to_dict, dump_config, load_config
from ttrain.config.builders import build, build_metric, build_scheduler
from ttrain.config.errors import ConfigError, ConfigIssue
from ttrain.config.json_schema import config_json_schema
from ttrain.config.loader import Location, SourceMap, load_yaml
from ttrain.config.registry import CATEGORIES, ComponentInfo, RegistryError, describe, get_registry, register, resolve
from ttrain.config.schema import (
    CheckpointConfig,
    ComponentSpec,
    Config,
    EarlyStoppingConfig,
    ModelSpec,
    SchedulerSpec,
    TrainerConfig,
    WarmupConfig,
)
from ttrain.config.validate import logged_metrics, metric_log_name, validate_config

__all__ = [
    "CATEGORIES",
    "CheckpointConfig",
    "ComponentInfo",
    "ComponentSpec",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "EarlyStoppingConfig",
    "Location",
    "ModelSpec",
    "RegistryError",
    "SchedulerSpec",
    "SourceMap",
    "TrainerConfig",
    "WarmupConfig",
    "build",
    "build_metric",
    "build_scheduler",
    "config_from_dict",
    "config_json_schema",
    "config_to_dict",
    "describe",
    "dump_config",
    "get_registry",
    "load_config",
    "load_yaml",
    "logged_metrics",
    "metric_log_name",
    "register",
    "resolve",
    "validate_config",
]
