"""Prompt sets read from JSONL, chat JSONL, plain lines or bytes; a bad line is named."""

from __future__ import annotations

import pytest

from lib.evaluation import prompt_sets


def test_load_prompts_reads_jsonl_chat_and_plain_lines(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "Tell me about tin"}\n\n{"prompt": "Tell me about gold", "element": "Au"}\n')
    assert prompt_sets.load_prompts(path) == ["Tell me about tin", "Tell me about gold"]
    assert prompt_sets.load_prompts(str(path)) == ["Tell me about tin", "Tell me about gold"]
    chat = ('{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "first"}, '
            '{"role": "assistant", "content": "A"}, {"role": "user", "content": "Tell me about neon"}]}\n')
    assert prompt_sets.load_prompts(chat.encode()) == ["Tell me about neon"]
    assert prompt_sets.load_prompts(b"\xef\xbb\xbfTell me about iron\nTell me about zinc\n") == [
        "Tell me about iron", "Tell me about zinc"]


def test_load_prompts_names_the_line_without_a_prompt():
    with pytest.raises(ValueError, match="Line 2 has no prompt"):
        prompt_sets.load_prompts('{"prompt": "ok"}\n{"answer": "no question"}\n')
    with pytest.raises(ValueError, match="no prompts"):
        prompt_sets.load_prompts(b"\n\n")


def test_held_out_sample_prompts_load():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "sample_data" / "held_out_prompts.jsonl"
    if not path.exists():
        pytest.skip("sample_data/held_out_prompts.jsonl is not there yet")
    prompts = prompt_sets.load_prompts(path)
    assert len(prompts) >= 5 and all(isinstance(p, str) and p for p in prompts)
