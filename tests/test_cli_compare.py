"""`python -m lib compare`: the batch and the report from the command line; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.__main__ import main
from tests.evaluation.test_comparison import LIMERICK, WRONG, FakeServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server():
    fake = FakeServer()
    fake.add("gpt-4o-mini-2024-07-18", WRONG, usage=(30, 12))
    fake.add("ft:gpt-4o-mini-2024-07-18:org::abc", LIMERICK, usage=(30, 40))
    yield fake
    fake.close()


@pytest.fixture
def prompts(tmp_path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Tell me about {e}"}) + "\n" for e in ("strontium", "gold", "neon")))
    return path


def compare(*args: str) -> int:
    return main(["compare", *args])


def test_compare_prints_a_table_and_writes_a_self_contained_report(server, prompts, tmp_path, capsys):
    out = tmp_path / "reports" / "out.html"
    rc = compare("--models", "gpt-4o-mini-2024-07-18", "ft:gpt-4o-mini-2024-07-18:org::abc", "--prompts", str(prompts),
                 "--provider", "url", "--base-url", server.url, "--report", str(out), "--system", "Be Elle.")
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].split()[:2] == ["Model", "Answered"]
    assert any(line.startswith("gpt-4o-mini-2024-07-18 ") and " 3/3 " in line for line in lines)
    assert f"Report written to {out}" in captured.out
    page = out.read_text(encoding="utf-8")
    assert 'id="batch"' in page and "Tell me about strontium" in page and "* plotly.js v" in page
    assert len(server.requests) == 6 and all(r["messages"][0]["content"] == "Be Elle." for r in server.requests)


def test_compare_json_gives_the_summary_and_every_reply(server, prompts, capsys):
    rc = compare("--models", "gpt-4o-mini-2024-07-18", "ft:gpt-4o-mini-2024-07-18:org::abc", "--prompts", str(prompts),
                 "--provider", "url", "--base-url", server.url, "--json")
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    base, tuned = data["summary"]["contenders"]
    assert (base["label"], tuned["fine_tuned"]) == ("gpt-4o-mini-2024-07-18", True)
    # Priced from the table: fine-tuned inference costs more per token than the base model.
    assert tuned["cost_per_1000"] > base["cost_per_1000"] > 0
    assert len(data["replies"]) == 6 and data["report"] is None
    assert data["conclusion"]


def test_compare_with_few_shot_adds_the_prompt_engineering_contender(server, prompts, tmp_path, capsys):
    dataset = tmp_path / "train.jsonl"
    dataset.write_text(json.dumps({"messages": [
        {"role": "system", "content": "Elle"}, {"role": "user", "content": "Tell me about tin"},
        {"role": "assistant", "content": "Tin limerick"}]}) + "\n")
    rc = compare("--models", "gpt-4o-mini-2024-07-18", "--prompts", str(prompts), "--provider", "url",
                 "--base-url", server.url, "--few-shot", str(dataset), "--json")
    assert rc == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert [c["label"] for c in data["summary"]["contenders"]] == [
        "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18 + 1 examples"]
    few = [r for r in server.requests if any(m["content"] == "Tin limerick" for m in r["messages"])]
    assert len(few) == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--models", "a", "b", "--prompts", "missing.jsonl", "--provider", "url", "--base-url", "http://127.0.0.1:9"],
         "No such prompt file"),
        (["--models", "a", "b", "c", "d", "--prompts", "PROMPTS", "--provider", "url", "--base-url",
          "http://127.0.0.1:9"], "one to three"),
        (["--models", "a", "b", "--prompts", "PROMPTS", "--provider", "url"], "base URL"),
        (["--models", "a", "b", "--prompts", "PROMPTS", "--provider", "openai"], "OpenAI API key"),
        (["--models", "a", "b", "--prompts", "PROMPTS", "--provider", "url", "--base-url", "http://127.0.0.1:9"],
         "answered none of the prompts"),
    ],
)
def test_compare_fails_with_one_plain_line(args, expected, prompts, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    rc = compare(*[str(prompts) if a == "PROMPTS" else a for a in args])
    err = capsys.readouterr().err
    assert rc == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert expected in err


def test_python_m_lib_compare_runs_as_a_command(server, prompts, tmp_path):
    env = {**os.environ, "FTS_HOME": str(tmp_path / "home")}
    env.pop("OPENAI_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "lib", "compare", "--models", "gpt-4o-mini-2024-07-18", "--prompts", str(prompts),
         "--provider", "url", "--base-url", server.url.removesuffix("/v1")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "gpt-4o-mini-2024-07-18" in result.stdout and "Traceback" not in result.stderr


def test_compare_against_the_local_engine_tiny_model(request, prompts, tmp_path, capsys):
    if not (ROOT / "tests" / "plugins" / "engine.py").exists():
        pytest.skip("the local engine's test fixtures (tests/plugins/engine.py) are not there yet")
    try:
        engine = request.getfixturevalue("engine_server")
    except pytest.FixtureLookupError:
        pytest.skip("the engine_server fixture is not registered in tests/conftest.py")
    base_url = next((getattr(engine, name) for name in ("base_url", "url") if isinstance(getattr(engine, name, None), str)),
                    engine if isinstance(engine, str) else None)
    if base_url is None:
        pytest.skip(f"cannot find the engine's address on {engine!r}")
    out = tmp_path / "engine.html"
    key = ["--api-key", engine.api_key] if getattr(engine, "api_key", None) else []
    rc = compare("--models", "tiny-random-llama", "tiny-random-llama", "--prompts", str(prompts), *key,
                 "--provider", "local", "--base-url", base_url, "--max-tokens", "16", "--report", str(out), "--json")
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    data = json.loads(captured.out)
    assert [c["answered"] for c in data["summary"]["contenders"]] == [3, 3]
    assert all(c["cost_per_1000"] == 0 for c in data["summary"]["contenders"])  # local: no charge
    assert out.exists() and 'id="batch"' in out.read_text(encoding="utf-8")


def test_compare_reports_the_models_that_work_and_fails_on_the_one_that_does_not(server, prompts, tmp_path, capsys):
    out = tmp_path / "partial.html"
    prompts.write_text("".join(f"Tell me about element {i}\n" for i in range(1, 13)))
    rc = compare("--models", "gpt-4o-mini-2024-07-18", "gpt-nope", "--prompts", str(prompts), "--provider", "url",
                 "--base-url", server.url, "--report", str(out))
    captured = capsys.readouterr()
    assert rc == 1
    assert "gpt-4o-mini-2024-07-18" in captured.out and out.exists()
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("compare: gpt-nope answered none of the prompts:")
    assert len(server.requests_for("gpt-nope")) <= 4  # a 404 is not asked again for each of the 12 prompts
