"""Character-level language modelling end to end: `ttrain fit` on a text the test generates, then
`ttrain eval` and `ttrain sample` from the checkpoint alone."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any, Callable

import pytest

SUBJECTS = ("the cat", "a dog", "my bird")
VERBS = ("sat", "ran", "ate")
SENTENCES = {f"{s} {v}." for s in SUBJECTS for v in VERBS}

CONFIG = """\
name: tiny_text
seed: 0
model: {name: char_lstm, embedding_dim: 8, hidden_size: 48}
data: {name: text, path: corpus.txt, seq_len: 24}
loss: {name: cross_entropy}
optimizer: {name: adam, lr: 0.02}
trainer: {epochs: 10, batch_size: 16, metrics: [perplexity, accuracy], grad_clip: 1.0}
checkpoint: {monitor: val.loss}
"""


def write_corpus(path: Path, sentences: int = 600, seed: int = 0) -> str:
    """Sentences of a tiny grammar (subject, verb, full stop), one per line, in a seeded order."""
    rng = random.Random(seed)
    text = "".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}.\n" for _ in range(sentences))
    path.write_text(text, encoding="utf-8")
    return text


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One small model fitted on the generated corpus (shared by the tests below: training is the slow part)."""
    from typer.testing import CliRunner

    from ttrain.cli.app import app

    folder = tmp_path_factory.mktemp("text")
    text = write_corpus(folder / "corpus.txt")
    (folder / "tiny_text.yaml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(app, ["fit", str(folder / "tiny_text.yaml"), "--json",
                                      "--set", f"trainer.output_dir={folder / 'runs'}"])
    assert result.exit_code == 0, result.stderr
    return {"summary": json.loads(result.stdout), "folder": folder, "text": text}


def test_validation_perplexity_falls_far_below_the_vocabulary_size(trained: dict[str, Any]) -> None:
    final = trained["summary"]["final"]
    vocabulary = len(set(trained["text"]))
    assert vocabulary == 18
    # Uniform guessing scores the vocabulary size; knowing the grammar leaves only the choice of
    # subject and verb, a little over one bit per sentence of ~12 characters.
    assert final["val.perplexity"] < 2.0 < vocabulary
    assert math.isclose(final["val.perplexity"], math.exp(final["val.loss"]), rel_tol=1e-6)
    assert final["val.accuracy"] > 0.75


def test_sampling_continues_the_grammar(trained: dict[str, Any], cli: Callable[..., Any]) -> None:
    best = trained["summary"]["checkpoints"]["best"]
    greedy = cli("sample", best, "--prompt", "the c", "--tokens", "40", "--temperature", "0")
    assert greedy.exit_code == 0, greedy.stderr
    assert greedy.stdout.startswith("the cat ")
    drawn = cli("sample", best, "--prompt", "my bird ate.\n", "--tokens", "120", "--temperature", "0.5", "--seed", "3")
    assert drawn.exit_code == 0, drawn.stderr
    assert drawn.stdout.endswith("\n")  # print's own
    complete = drawn.stdout[:-1].split("\n")[:-1]  # the last line may stop mid-sentence
    assert len(complete) >= 5 and all(line in SENTENCES for line in complete), complete


def test_sampling_is_deterministic_for_a_seed_and_json_says_what_it_wrote(trained: dict[str, Any], cli) -> None:
    best = trained["summary"]["checkpoints"]["best"]
    runs = [cli("sample", best, "--prompt", "a ", "--tokens", "50", "--seed", str(seed), "--temperature", "1.5", "--json")
            for seed in (1, 1, 2)]
    texts = [json.loads(r.stdout)["text"] for r in runs]
    assert texts[0] == texts[1] != texts[2]
    assert len(texts[0]) == 50 and json.loads(runs[0].stdout)["command"] == "sample"
    jsonschema = pytest.importorskip("jsonschema")
    from ttrain.schemas import output_schema

    validator = jsonschema.Draft202012Validator(output_schema())
    validator.validate(json.loads(runs[0].stdout))
    refused = cli("sample", best, "--prompt", "?", "--json")
    assert refused.exit_code == 2 and json.loads(refused.stdout)["error"]["kind"] == "data"
    validator.validate(json.loads(refused.stdout))


def test_sampling_needs_only_the_checkpoint(trained: dict[str, Any], cli, tmp_path: Path) -> None:
    best = Path(trained["summary"]["checkpoints"]["best"])
    alone = tmp_path / "model.safetensors"
    alone.write_bytes(best.read_bytes())
    (trained["folder"] / "corpus.txt").rename(trained["folder"] / "corpus.moved")
    try:
        result = cli("sample", alone, "--prompt", "my ", "--tokens", "10", "--temperature", "0")
    finally:
        (trained["folder"] / "corpus.moved").rename(trained["folder"] / "corpus.txt")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("my bird")


def test_a_prompt_character_the_model_never_saw_is_named(trained: dict[str, Any], cli) -> None:
    best = trained["summary"]["checkpoints"]["best"]
    result = cli("sample", best, "--prompt", "The Cat", "--tokens", "5")
    assert result.exit_code == 2
    assert "'T', 'C'" in result.stderr and "Traceback" not in result.stderr
    assert cli("sample", best, "--prompt", "", "--tokens", "5").exit_code == 2
    assert cli("sample", best, "--prompt", "a", "--temperature", "-1").exit_code == 2


def test_a_checkpoint_of_another_model_cannot_sample(write_config, fit_json, cli) -> None:
    summary = fit_json(write_config(), "--set", "trainer.epochs=1")
    result = cli("sample", summary["checkpoints"]["last"], "--prompt", "a")
    assert result.exit_code == 2 and "not a character model" in result.stderr


def test_eval_reads_the_held_out_end_and_refuses_a_text_with_other_characters(trained: dict[str, Any], cli) -> None:
    best = trained["summary"]["checkpoints"]["best"]
    result = cli("eval", best, "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert math.isclose(metrics["test.perplexity"], trained["summary"]["best"]["metrics"]["val.perplexity"], rel_tol=1e-5)
    other = trained["folder"] / "other.txt"
    other.write_text(trained["text"].upper(), encoding="utf-8")
    changed = cli("eval", best, "--data", f"path={other}")
    assert changed.exit_code == 2 and "other characters" in changed.stderr


def test_the_text_data_refuses_trainer_val_split(trained: dict[str, Any], cli) -> None:
    config = trained["folder"] / "tiny_text.yaml"
    result = cli("fit", config, "--set", "trainer.val_split=0.2", "--set", "trainer.epochs=1")
    assert result.exit_code == 2 and "holds out its own validation split" in result.stderr


@pytest.mark.parametrize("content, problem", [
    (None, "no such data file"),
    (b"caf\xe9 au lait\n", "not UTF-8 text: byte 3 (line 1)"),
    (b"short", "too short"),
])
def test_a_bad_text_file_is_named_with_its_problem(tmp_path: Path, cli, content: bytes | None, problem: str) -> None:
    corpus = tmp_path / "corpus.txt"
    if content is not None:
        corpus.write_bytes(content)
    (tmp_path / "t.yaml").write_text(CONFIG, encoding="utf-8")
    result = cli("fit", tmp_path / "t.yaml", "--set", f"trainer.output_dir={tmp_path / 'runs'}")
    assert result.exit_code == 2, result.stderr
    assert str(corpus) in result.stderr and problem in result.stderr
    assert "Traceback" not in result.stderr


def test_the_bundled_config_takes_the_users_text(tmp_path: Path, cli) -> None:
    from ttrain.config import load_config

    corpus = tmp_path / "book.txt"
    write_corpus(corpus, 50)
    config, _ = load_config(Path(__file__).parents[2] / "configs" / "text_lstm.yaml", [f"data.path={corpus}"])
    assert Path(config.data.kwargs["path"]) == corpus
    assert (config.model.name, config.data.name) == ("char_lstm", "text")
    assert "perplexity" in [m.name for m in config.trainer.metrics]


@pytest.mark.slow
def test_the_bundled_config_learns_a_richer_grammar(tmp_path: Path, cli) -> None:
    """The bundled config, shrunk a little, on 60,000 characters of a grammar with nested choices."""
    rng = random.Random(1)
    people = ("the old man", "a girl", "my friend", "the baker")
    verbs = ("sees", "likes", "finds", "follows")
    things = ("the ball", "a tree", "the river", "some bread")
    lines = []
    while sum(map(len, lines)) < 60_000:
        clause = f"{rng.choice(people)} {rng.choice(verbs)} {rng.choice(things)}"
        lines.append(clause + (f" and {rng.choice(verbs)} {rng.choice(things)}" if rng.random() < 0.3 else "") + ".\n")
    corpus = tmp_path / "grammar.txt"
    corpus.write_text("".join(lines), encoding="utf-8")
    config = Path(__file__).parents[2] / "configs" / "text_lstm.yaml"
    result = cli("fit", config, "--json", "--set", f"data.path={corpus}", "--set", f"trainer.output_dir={tmp_path}",
                 "--set", "model.hidden_size=64", "--set", "data.seq_len=48", "--set", "trainer.epochs=4",
                 "--set", "optimizer.lr=0.01")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["best"]["metrics"]["val.perplexity"] < 1.6 < len(set(corpus.read_text()))
    sample = cli("sample", summary["checkpoints"]["best"], "--prompt", "the baker ", "--tokens", "300",
                 "--temperature", "0.7", "--seed", "0")
    complete = sample.stdout[:-1].split("\n")[1:-1]  # whole sentences after the prompt's line
    words = set(" ".join(people + verbs + things + ("and",)).split())
    assert complete and all(line.endswith(".") and set(line[:-1].split()) <= words for line in complete), complete
