"""Taking a fine-tuned model home, checked by the runtimes that load it: peft, transformers alone,
transformers' GGUF loader (and llama.cpp where llama-cpp-python is installed), and Ollama's template
language (rendered here by a small evaluator of the Go-template subset the Modelfile uses)."""

from __future__ import annotations

import importlib.util
import json
import re
import time
import zipfile
from pathlib import Path

import pytest

from lib.checks import facts_card
from lib.engine.export import export_name
from lib.services import export, providers
from tests.plugins.engine import API_KEY, SYSTEM, TINY, assert_openai_error, chat_examples, write_jsonl

PROMPT = "Tell me about Strontium"
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
NEW_TOKENS = 12


def wait_job(client, job_id: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while (job := client.fine_tuning.jobs.retrieve(job_id)).status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert job.status == "succeeded", job.error
    return job


def train(client, folder: Path, *, card: bool = False, **extra):
    rows = facts_card.add_to_rows(chat_examples(10)) if card else chat_examples(10)
    if card:
        extra["metadata"] = {"facts_card": "on"}
    with write_jsonl(folder / "train.jsonl", rows).open("rb") as handle:
        training = client.files.create(file=handle, purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=TINY, training_file=training.id, seed=3, suffix="home",
                                         method={"type": "supervised",
                                                 "supervised": {"hyperparameters": {"n_epochs": 1}}}, **extra)
    return wait_job(client, job.id)


@pytest.fixture(scope="module")
def tuned(engine_server, tmp_path_factory):
    """A LoRA job on the tiny model (its rows with their facts cards) and the engine's own greedy reply to the
    held-out prompt."""
    client = engine_server.client()
    job = train(client, tmp_path_factory.mktemp("export"), card=True)
    reply = client.chat.completions.create(model=job.fine_tuned_model, messages=MESSAGES, temperature=0,
                                           max_tokens=NEW_TOKENS).choices[0].message.content
    return job, reply


@pytest.fixture(scope="module")
def config(engine_server):
    return providers.config_from_env("local", base_url=engine_server.base_url, api_key=API_KEY)


@pytest.fixture(scope="module")
def exported(config, tuned, tmp_path_factory):
    """Export in one format; returns the folder the zip was unpacked into (and the Export)."""
    job, _ = tuned
    folder = tmp_path_factory.mktemp("exports")
    made: dict[tuple[str, str], tuple[Path, export.Export]] = {}

    def get(fmt: str, quant: str = "f16") -> tuple[Path, export.Export]:
        if (fmt, quant) not in made:
            started = export.start(config, job.id, fmt, quant)
            done = export.wait(config, started.id)
            path = export.download(config, done, folder)
            assert path.stat().st_size == done.bytes
            target = folder / f"{fmt}-{quant}"
            with zipfile.ZipFile(path) as archive:
                assert sorted(archive.namelist()) == sorted(done.files)
                archive.extractall(target)
            made[(fmt, quant)] = (target, done)
        return made[(fmt, quant)]

    return get


def greedy(model, tokenizer) -> tuple[str, object]:
    """The reply and the first step's logits, as the engine computes them (chat template, greedy)."""
    import torch

    ids = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, -1]
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                             do_sample=False)[0, ids.shape[1]:]
    return tokenizer.decode(out, skip_special_tokens=True), logits


def test_adapter_loads_with_peft_on_the_base_model_and_replies_as_the_engine(exported, tuned):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lib.engine import models

    folder, done = exported("adapter")
    adapter = folder / next(p.parent.name for p in folder.rglob("adapter_config.json"))
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter.iterdir()}
    base = AutoModelForCausalLM.from_pretrained(models.local_path(TINY))
    model = PeftModel.from_pretrained(base, adapter)
    assert greedy(model, AutoTokenizer.from_pretrained(adapter))[0] == tuned[1]
    assert "PeftModel.from_pretrained" in (folder / "README.md").read_text()


def test_merged_folder_loads_with_transformers_alone_and_replies_as_the_engine(exported, tuned):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, done = exported("merged")
    model_dir = folder / done.files[0].split("/")[0]
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    assert "adapter_config.json" not in names
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert not hasattr(model, "peft_config")
    assert greedy(model, tokenizer)[0] == tuned[1]


def _gguf(folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = next(p.name for p in folder.iterdir() if p.suffix == ".gguf")
    return (AutoModelForCausalLM.from_pretrained(folder, gguf_file=name),
            AutoTokenizer.from_pretrained(folder, gguf_file=name))


def test_gguf_loads_with_transformers_and_replies_as_the_engine(exported, tuned):
    """f32 is exact; f16 keeps the logits within 0.02 (measured 0.003 on this model), q8_0 within 0.1."""
    import torch

    reference = None
    for quant, tolerance in (("f32", 1e-4), ("f16", 0.02), ("q8_0", 0.1)):
        folder, done = exported("gguf", quant)
        assert done.files == [f"{export_name(tuned[0].fine_tuned_model)}-{quant}.gguf", "README.md"]
        model, tokenizer = _gguf(folder)
        reply, logits = greedy(model, tokenizer)
        if quant == "f32":
            assert reply == tuned[1]
            reference = logits
        assert torch.allclose(logits, reference, atol=tolerance), (quant, (logits - reference).abs().max())
        assert "llama-cli -m" in (folder / "README.md").read_text()


def go_template(template: str, data: dict) -> str:
    """Render the subset of Go's text/template the Modelfile uses: text, {{ .Field }}, {{ range .List }} ...
    {{ end }} (inside a range, `.` is the item), with `{{-`/`-}}` trimming spaces."""
    parts = re.split(r"({{-?\s*.*?\s*-?}})", template)
    tokens: list[tuple[str, str]] = []
    for part in parts:
        if part.startswith("{{"):
            if part.startswith("{{-") and tokens and tokens[-1][0] == "text":
                tokens[-1] = ("text", tokens[-1][1].rstrip())
            tokens.append(("action", part.strip("{}-").strip()))
            if part.endswith("-}}"):
                tokens.append(("trim", ""))
        elif tokens and tokens[-1][0] == "trim":
            tokens[-1] = ("text", part.lstrip())
        else:
            tokens.append(("text", part))

    def run(i: int, dot: dict) -> tuple[str, int]:
        out = ""
        while i < len(tokens):
            kind, value = tokens[i]
            if kind != "action":
                out += value
            elif value == "end":
                return out, i
            elif value.startswith("range "):
                items = dot[value.split()[1].lstrip(".")]
                end = i
                for item in items:
                    text, end = run(i + 1, item)
                    out += text
                if not items:
                    _, end = run(i + 1, {"Role": "", "Content": ""})
                i = end
            else:
                assert re.fullmatch(r"\.\w+", value), f"unsupported action {value!r}"
                out += dot[value[1:]]
            i += 1
        return out, i

    return run(0, data)[0]


def modelfile_value(text: str, key: str) -> str:
    return re.search(key + r' """(.*?)"""', text, re.S).group(1)


def test_ollama_modelfile_renders_the_models_own_chat_template(exported, tuned):
    from transformers import AutoTokenizer

    folder, done = exported("ollama", "q8_0")
    modelfile = (folder / "Modelfile").read_text()
    gguf_name = f"{export_name(tuned[0].fine_tuned_model)}-q8_0.gguf"
    assert sorted(done.files) == sorted(["Modelfile", gguf_name, "README.md"])
    assert modelfile.startswith(f"FROM ./{gguf_name}\n")
    assert modelfile_value(modelfile, "SYSTEM") == SYSTEM  # the dataset's system prompt, less the rows' facts cards
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    # Ollama puts SYSTEM first among the messages; the template must give the text the model was trained on.
    messages = [{"Role": "system", "Content": SYSTEM}, {"Role": "user", "Content": PROMPT}]
    rendered = go_template(modelfile_value(modelfile, "TEMPLATE"), {"Messages": messages})
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_name)
    assert rendered == tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    readme = (folder / "README.md").read_text()
    assert "ollama create" in readme and "-f Modelfile" in readme and "ollama run" in readme
    assert "trained with a facts card" in readme and "Facts: Strontium (Sr), atomic number 38" in readme


@pytest.mark.skipif(not importlib.util.find_spec("llama_cpp"), reason="llama-cpp-python is not installed")
def test_llama_cpp_runs_the_gguf_with_the_engines_reply(exported, tuned):
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    folder, _ = exported("gguf", "f32")
    path = next(p for p in folder.iterdir() if p.suffix == ".gguf")
    prompt = AutoTokenizer.from_pretrained(folder, gguf_file=path.name).apply_chat_template(
        MESSAGES, tokenize=False, add_generation_prompt=True)
    llm = Llama(model_path=str(path), n_ctx=512, verbose=False, seed=0)
    out = llm.create_completion(prompt, max_tokens=NEW_TOKENS, temperature=0.0, top_k=1)
    llm.close()
    assert out["choices"][0]["text"] == tuned[1]


def test_the_same_export_asked_twice_is_built_once(config, tuned, exported):
    _, first = exported("gguf", "f16")
    again = export.start(config, tuned[0].fine_tuned_model, "gguf", "f16")
    assert (again.id, again.status) == (first.id, "succeeded")


def test_a_fully_fine_tuned_model_has_no_adapter_to_export(engine_server, config, tmp_path):
    job = train(engine_server.client(), tmp_path, metadata={"training": "full"})
    with pytest.raises(export.errors.StudioError) as caught:
        export.start(config, job.id, "adapter")
    assert "no adapter" in str(caught.value) and "merged" in str(caught.value)
    merged = export.wait(config, export.start(config, job.id, "merged").id)  # the whole model is what there is
    assert any(name.endswith("/model.safetensors") for name in merged.files)


def test_export_errors_use_openais_envelope(engine_server, engine_client):
    import openai

    with pytest.raises(openai.APIStatusError) as caught:
        engine_client.post("/exports", cast_to=object, body={"model": "ft:nothing:local::x", "format": "gguf"})
    assert_openai_error(caught.value, 404, code="model_not_found", param="model")
    with pytest.raises(openai.APIStatusError) as caught:
        engine_client.post("/exports", cast_to=object, body={"model": "ftjob-x", "format": "zip"})
    assert_openai_error(caught.value, 400)
    with pytest.raises(openai.APIStatusError) as caught:
        engine_client.get("/exports/export-nothing", cast_to=object)
    assert_openai_error(caught.value, 404, code="export_not_found")
    with pytest.raises(openai.APIStatusError) as caught:
        engine_server.client(api_key="wrong").get("/exports", cast_to=object)
    assert_openai_error(caught.value, 401)


def test_cli_exports_a_job_and_says_where(engine_server, tuned, tmp_path, monkeypatch, capsys):
    from lib.__main__ import main

    monkeypatch.setenv("FTS_ENGINE_KEY", API_KEY)
    code = main(["export", tuned[0].id, "--format", "gguf", "--quant", "q8_0", "--out", str(tmp_path),
                 "--base-url", engine_server.base_url])
    out = capsys.readouterr().out
    assert code == 0, out
    saved = next(tmp_path.glob("*.zip"))
    assert f"Saved {saved}" in out
    assert zipfile.ZipFile(saved).namelist()[0].endswith("-q8_0.gguf")


def test_cli_fails_in_one_plain_line(engine_server, tmp_path, monkeypatch, capsys):
    from lib.__main__ import main

    monkeypatch.setenv("FTS_ENGINE_KEY", API_KEY)
    code = main(["export", "ftjob-missing", "--out", str(tmp_path), "--base-url", engine_server.base_url])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("export: ") and "ftjob-missing" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    assert main(["export", "ftjob-x", "--provider", "openai"]) == 1
    err = capsys.readouterr().err
    assert "never hands out" in err and "local engine" in err and "sk-test" not in err


def test_hosted_providers_say_plainly_there_are_no_weights():
    config = providers.config_from_env("openai", api_key="sk-test-not-real")
    assert not export.can_export(config)
    with pytest.raises(export.errors.NotSupported, match="local engine"):
        export.start(config, "ft:gpt-4o-mini:org::abc", "gguf")
    assert "sk-test" not in export.no_weights_message(config)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smollm2_merged_and_gguf_give_the_engines_greedy_replies(engine_server, config, tmp_path):
    """The real model: the merged folder and the f16 GGUF (transformers, and llama.cpp where installed)
    answer held-out prompts exactly as the engine's fine-tuned model does."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lib.engine.models import DEFAULT_MODEL

    client = engine_server.client(timeout=900)
    sample = Path(__file__).resolve().parents[2] / "sample_data"
    rows = [r for r in (json.loads(line) for line in (sample / "elements_limericks.jsonl").read_text().splitlines()
                        if line) if all(m["content"].strip() for m in r["messages"])]
    with write_jsonl(tmp_path / "limericks.jsonl", rows).open("rb") as handle:
        training = client.files.create(file=handle, purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=DEFAULT_MODEL, training_file=training.id, seed=0, suffix="home",
                                         method={"type": "supervised",
                                                 "supervised": {"hyperparameters": {"n_epochs": 3}}})
    job = wait_job(client, job.id, timeout=1500)
    prompts = [json.loads(line)["prompt"] for line in (sample / "held_out_prompts.jsonl").read_text().splitlines()
               if line][:2]
    chats = [[{"role": "system", "content": rows[0]["messages"][0]["content"]}, {"role": "user", "content": p}]
             for p in prompts]
    engine_replies = [client.chat.completions.create(model=job.fine_tuned_model, messages=m, temperature=0,
                                                     max_tokens=60).choices[0].message.content for m in chats]

    def replies(model, tokenizer) -> list[str]:
        import torch

        found = []
        for messages in chats:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)["input_ids"]
            new = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=60,
                                 do_sample=False)[0, ids.shape[1]:]
            found.append(tokenizer.decode(new, skip_special_tokens=True))
        return found

    for fmt in ("merged", "gguf"):
        done = export.wait(config, export.start(config, job.id, fmt, "f16").id)
        folder = tmp_path / fmt
        zipfile.ZipFile(export.download(config, done, tmp_path)).extractall(folder)
        if fmt == "merged":
            model_dir = next(p.parent for p in folder.rglob("config.json"))
            model, tokenizer = AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
        else:
            model, tokenizer = _gguf(folder)
        assert replies(model, tokenizer) == engine_replies, fmt
    if importlib.util.find_spec("llama_cpp"):
        from llama_cpp import Llama

        path = next(p for p in (tmp_path / "gguf").iterdir() if p.suffix == ".gguf")
        llm = Llama(model_path=str(path), n_ctx=1024, verbose=False, seed=0)
        prompt = tokenizer.apply_chat_template(chats[0], tokenize=False, add_generation_prompt=True)
        text = llm.create_completion(prompt, max_tokens=60, temperature=0.0, top_k=1)["choices"][0]["text"]
        llm.close()
        assert text == engine_replies[0]


def test_a_chat_template_it_cannot_translate_is_refused_in_plain_words():
    from transformers import AutoTokenizer

    from lib.engine import errors, models
    from lib.engine.export import chat_turn

    tokenizer = AutoTokenizer.from_pretrained(models.local_path(TINY))
    turn = chat_turn(tokenizer)
    assert (turn.start, turn.middle, turn.end) == ("<|im_start|>", "\n", "<|im_end|>\n")
    assert turn.default_system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    tokenizer.chat_template = ("{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
                               "{% else %}{{ m['content'] }}{% endif %}{% endfor %}")
    with pytest.raises(errors.BadRequest, match="chat template"):
        chat_turn(tokenizer)


def test_an_export_cut_short_by_a_restart_reads_as_failed(tmp_path):
    from lib.engine.export import Exports
    from lib.engine.store import Store

    exports = Exports(Store(tmp_path))
    record = {"id": "export-abc", "object": "export", "created_at": 1, "model": "ft:x", "format": "gguf",
              "quant": "f16", "status": "running", "progress": 0.4, "stage": "Converting the weights"}
    exports._write(record)
    again = Exports(Store(tmp_path)).retrieve("export-abc")
    assert again["status"] == "failed" and "start the export again" in again["error"]["message"]


def test_sizes_read_as_people_write_them():
    assert [export.human_size(n) for n in (512, 2_500, 145_300_000, 3_200_000_000)] == [
        "512 bytes", "2.5 KB", "145.3 MB", "3.2 GB"]
