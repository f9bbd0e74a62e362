"""`ttrain sample CHECKPOINT --prompt TEXT --tokens N`: text written by a trained character model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.evaluate import TrustOption
from ttrain.cli.output import print_json


def sample(
    checkpoint: Annotated[Path, typer.Argument(
        metavar="CHECKPOINT", help="A .safetensors checkpoint of a model trained on `data: {name: text}`.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="The text to continue (characters the model knows).")],
    tokens: Annotated[int, typer.Option("--tokens", "-n", min=0, help="How many characters to write.")] = 200,
    temperature: Annotated[float, typer.Option(
        "--temperature", "-t", min=0.0,
        help="Below 1 favours likely characters, above 1 flattens the choice; 0 always takes the most likely one.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws: the same seed writes the same text.")] = 0,
    trust_module: TrustOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Continue a prompt with a character model; prints the prompt followed by what the model wrote."""
    with user_errors(json_output, "sample"):
        from ttrain.training.run import load_text_model
        from ttrain.training.sampling import generate

        _, model, vocabulary, seq_len = load_text_model(checkpoint, trust_module or [])
        text = generate(model, vocabulary, prompt, tokens, temperature, seed, context=seq_len)
        if json_output:
            print_json("sample", {"status": "ok", "checkpoint": str(checkpoint), "prompt": prompt, "text": text,
                                  "tokens": tokens, "temperature": temperature, "seed": seed})
        else:
            print(prompt + text)
