"""What `ttrain export` and `ttrain import` run: a checkpoint's model out to PyTorch or ONNX, and a
PyTorch state dict in to a ttrain checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttrain.interop.chain import InteropError, Link, layer_chain, trace_shapes
from ttrain.interop.torch_format import name_map, torch_snippet, torch_state_dict

FORMATS = ("torch", "onnx")
SUFFIXES = {"torch": ".torch.safetensors", "onnx": ".onnx"}
INSTALL_HINT = "pip install 'ttrain[export]'"


def format_for(output: Path | None) -> str | None:
    """The export format an output file's name implies (`.onnx`, `.safetensors`), else None."""
    if output is None:
        return None
    return {".onnx": "onnx", ".safetensors": "torch"}.get(Path(output).suffix.lower())


def default_output(path: Path, fmt: str) -> Path:
    """`best.safetensors` -> `best.torch.safetensors` or `best.onnx`, beside the input."""
    return path.with_name(path.name.split(".")[0] + SUFFIXES[fmt])


def _writable(output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise InteropError(f"{output}: already exists; not overwriting it (pass --overwrite to replace it)")


def _write(output: Path, data: bytes) -> None:
    from ttrain.training.checkpoint import atomic_write_bytes

    try:
        atomic_write_bytes(output, data)
    except OSError as error:
        raise InteropError(f"{output}: cannot write it: {error.strerror or error}") from None


def export_checkpoint(path: Path, fmt: str, output: Path | None = None, overwrite: bool = False,
                      trust_modules: Sequence[str] = ()) -> dict[str, Any]:
    """Write the model of the checkpoint at `path` as a PyTorch state dict (`torch`, with the Python
    that rebuilds the model) or an ONNX graph (`onnx`); returns the command's JSON-able record."""
    from ttrain.training.run import load_for_inference

    if fmt not in FORMATS:
        raise InteropError(f"unknown export format {fmt!r}: choose torch or onnx")
    path = Path(path)
    output = Path(output) if output is not None else default_output(path, fmt)
    _writable(output, overwrite)
    _, model, datasets, metadata = load_for_inference(path, trust_modules=trust_modules)
    sample_shape = tuple(int(n) for n in datasets["train"].input_shape)
    try:
        links = layer_chain(model)
        make = _torch_file if fmt == "torch" else _onnx_file
        data, details = make(path, links, sample_shape, metadata, output)
    except InteropError as error:  # say which checkpoint's model it is
        raise InteropError(f"{path}: {error}") from None
    _write(output, data)
    return {"status": "ok", "checkpoint": str(path), "format": fmt, "output": str(output),
            "layers": [link.kind for link in links], "input_shape": list(sample_shape), **details}


def _torch_file(path: Path, links: list[Link], sample_shape: tuple[int, ...], metadata: dict[str, Any],
                output: Path) -> tuple[bytes, dict[str, Any]]:
    """The safetensors bytes of the chain's torch.nn.Sequential state dict, and the snippet that loads it."""
    from safetensors.numpy import save

    state = torch_state_dict(links)
    data = save(state, metadata={"format": "pt", "source": f"ttrain checkpoint {path.name}"})
    return data, {"snippet": torch_snippet(links, str(output)), "tensors": sorted(state)}


def _onnx_file(path: Path, links: list[Link], sample_shape: tuple[int, ...], metadata: dict[str, Any],
               output: Path) -> tuple[bytes, dict[str, Any]]:
    """The serialised ONNX model of the chain, its opset and output shape."""
    try:
        import onnx  # noqa: F401 - an optional extra: say how to install it
    except ImportError:
        raise InteropError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from None
    from ttrain.interop.onnx_format import check_onnx_chain, onnx_model

    check_onnx_chain(links)  # before tracing: name the layer, not the first op that fails
    properties = {"ttrain_checkpoint": path.name, "epoch": str(metadata.get("epoch"))}
    proto = onnx_model(links, trace_shapes(links, sample_shape), properties)
    shape = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    return proto.SerializeToString(), {"opset": proto.opset_import[0].version, "output_shape": shape}


# ---------------------------------------------------------------- import


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (a state dict saved with `safetensors.torch.save_file`)."""
    from safetensors.numpy import load

    from ttrain.input_files import CHECKPOINT, read_input

    raw = read_input(path, CHECKPOINT, lambda problem: InteropError(f"{path}: {problem}"))
    try:
        return load(raw)
    except Exception as error:  # safetensors says what is wrong; none of it is a bug of ours
        raise InteropError(f"{path}: is not a readable safetensors file ({error}); save a PyTorch state dict "
                          "with safetensors.torch.save_file(model.state_dict(), path)") from None


def _without_shared_prefix(state: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The names without the first part all of them share (`model.`, DDP's `module.`), if they do."""
    heads = {name.split(".", 1)[0] for name in state}
    if len(heads) != 1 or not all("." in name for name in state):
        return None
    return {name.split(".", 1)[1]: array for name, array in state.items()}


def _name_layouts(model: Any) -> list[tuple[str, dict[str, str]]]:
    """The names a file may use for the model's tensors, each as {file's name: model's name}: the
    model's own, and for a chain of layers those of the exported `torch.nn.Sequential` (`0.weight`)."""
    layouts = [("the model's own names", {name: name for name in model.state_dict()})]
    try:
        layouts.append(("the names of `ttrain export --to torch`", name_map(layer_chain(model))))
    except InteropError:
        pass  # not a chain: only its own names
    return layouts


def _ttrain_names(path: Path, state: dict[str, np.ndarray], model: Any) -> dict[str, tuple[str, np.ndarray]]:
    """The model's name -> (the file's name, tensor), in the layout of `_name_layouts` that the
    file's names match best, read as they are or without one prefix they all share."""
    layouts = _name_layouts(model)
    candidates = [state, *filter(None, [_without_shared_prefix(state)])]
    score, names, layout, renames = max(
        ((len(set(names) & set(renames)), names, layout, renames)
         for names in candidates for layout, renames in layouts), key=lambda choice: choice[0])
    expected = {renames[k]: k for k in renames}
    missing = [k for k in renames if k not in names]
    extra = [k for k in names if k not in renames]
    if score == 0 or missing or extra:
        problems = []
        if missing:
            problems.append(f"lacks {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if extra:
            problems.append(f"has {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}, which the model does not")
        raise InteropError(f"{path}: does not fit the config's model (read with {layout}): {'; '.join(problems)}")
    return {target: (key, names[key]) for target, key in expected.items()}


def _fitted(path: Path, state: dict[str, tuple[str, np.ndarray]], model: Any) -> dict[str, np.ndarray]:
    """Each tensor checked against the model's (shape, kind of dtype) and cast to its dtype."""
    from ttrain.autograd.tensor import unwrap

    fitted = {}
    for name, current in model.state_dict().items():
        (label, have), want = state[name], np.asarray(unwrap(current))
        if have.shape != want.shape:
            raise InteropError(f"{path}: tensor {label} has shape {tuple(have.shape)}, the model's {name} "
                              f"needs {tuple(want.shape)}")
        if (have.dtype.kind == "f") != (want.dtype.kind == "f"):
            raise InteropError(f"{path}: tensor {label} is {have.dtype}, the model's {name} is {want.dtype}")
        fitted[name] = have.astype(want.dtype)
    return fitted


def import_state_dict(weights: Path, config: Any, output: Path | None = None, source: Any = None,
                      overwrite: bool = False) -> dict[str, Any]:
    """A ttrain checkpoint of `config`'s model holding the PyTorch state dict in `weights`: what
    `ttrain fit` would save before its first step, with these weights (so `ttrain eval` reads it and
    `ttrain fit --resume` fine-tunes from it). Returns the command's JSON-able record."""
    from ttrain.training.experiment import build_experiment
    from ttrain.training.snapshot import save_snapshot

    weights = Path(weights)
    default = weights.with_name(weights.name.split(".")[0] + ".ttrain.safetensors")
    output = Path(output) if output is not None else default
    _writable(output, overwrite)
    state = read_state_dict(weights)
    experiment = build_experiment(config, source)
    renamed = _ttrain_names(weights, state, experiment.model)
    experiment.model.load_state_dict(_fitted(weights, renamed, experiment.model), strict=True)
    save_snapshot(output, experiment)
    return {"status": "ok", "weights": str(weights), "output": str(output), "tensors": len(renamed),
            "model": type(experiment.model).__name__}
