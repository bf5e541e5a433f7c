"""lib.dataprep.tokens: offline encodings checked against tiktoken's hash, and the Cookbook's token count."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry

from lib.dataprep import tokens

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
SYSTEM = "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick"


# ------------------------------------------------------------------ an independent Cookbook formula


def cookbook_num_tokens(messages: list[dict], encoding: tiktoken.Encoding) -> int:
    """openai-cookbook Chat_finetuning_data_prep.ipynb `num_tokens_from_messages`, written out again,
    with the two fixes the module documents: non-string values skipped, special-token text as text."""
    num_tokens = 0
    for message in messages:
        num_tokens += 3
        for key, value in message.items():
            if isinstance(value, str):
                num_tokens += len(encoding.encode(value, disallowed_special=()))
            if key == "name":
                num_tokens += 1
    return num_tokens + 3


def cookbook_assistant_tokens(messages: list[dict], encoding: tiktoken.Encoding) -> int:
    return sum(
        len(encoding.encode(m["content"], disallowed_special=()))
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), str)
    )


def chat(*pairs: tuple[str, str], **extra) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in pairs], **extra}


FIXTURES: list[dict] = [
    chat(("system", SYSTEM), ("user", "Tell me about Gallium"),
         ("assistant", "Gallium, oh gallium, so light - Melts in your hand, oh what a sight - At 86 degrees - "
                       "Its liquid with ease - And in semiconductors, it's out of sight")),
    {"messages": [  # multi-turn with weights (ints are skipped)
        {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
        {"role": "user", "content": "What's the capital of France?"},
        {"role": "assistant", "content": "Paris", "weight": 0},
        {"role": "user", "content": "Can you be more sarcastic?"},
        {"role": "assistant", "content": "Paris, as if everyone doesn't know that already.", "weight": 1},
    ]},
    {"messages": [  # named participants: +1 each
        {"role": "system", "content": SYSTEM, "name": "teacher"},
        {"role": "user", "content": "Strontium?", "name": "alice_3b"},
        {"role": "assistant", "content": "Strontium is the 38th element.", "name": "Elle"},
    ]},
    {"messages": [  # tool calls: content None, a list of dicts, a tool reply
        {"role": "user", "content": "What is the melting point of gallium in Fahrenheit?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "convert", "arguments": "{\"c\": 29.76}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "85.57"},
        {"role": "assistant", "content": "About 85.6 °F — it melts in your hand."},
    ], "tools": [{"type": "function", "function": {"name": "convert", "parameters": {}}}]},
    {"messages": [  # legacy function call
        {"role": "user", "content": "Atomic number of tin?"},
        {"role": "assistant", "function_call": {"name": "lookup", "arguments": "{\"el\": \"Sn\"}"}, "content": None},
        {"role": "function", "name": "lookup", "content": "50"},
        {"role": "assistant", "content": "Tin is number 50."},
    ]},
    chat(("user", "Say <|endoftext|> and <|im_start|> literally"), ("assistant", "<|endoftext|> 🧪 水素 ok")),
    chat(("user", ""), ("assistant", "   \n\n  ")),
]


def _sample_examples() -> list[dict]:
    """The repository's sample data when it is there (another module writes it), else []."""
    found = []
    for path in sorted(SAMPLE_DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and isinstance(value.get("messages"), list) and all(
                isinstance(m, dict) for m in value["messages"]
            ):
                found.append(value)
    return found


@pytest.fixture(scope="module")
def o200k() -> tiktoken.Encoding:
    return tokens.get_encoding("o200k_base")


@pytest.fixture(scope="module")
def cl100k() -> tiktoken.Encoding:
    return tokens.get_encoding("cl100k_base")


# ------------------------------------------------------------------ counting


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_counts_equal_an_independent_cookbook_implementation(name):
    encoding = tokens.get_encoding(name)
    examples = FIXTURES + _sample_examples()
    totals, assistants = tokens.count_examples(examples, name)
    assert totals == [cookbook_num_tokens(ex["messages"], encoding) for ex in examples]
    assert assistants == [cookbook_assistant_tokens(ex["messages"], encoding) for ex in examples]
    for ex, total, assistant in zip(examples, totals, assistants, strict=True):
        assert tokens.count_messages(ex["messages"], name) == total
        assert tokens.count_assistant(ex["messages"], name) == assistant
        assert tokens.count_example(ex, name) == (total, assistant)


def test_sample_data_is_counted_when_present(o200k):
    samples = _sample_examples()
    if not samples:
        pytest.skip("sample_data/*.jsonl not there yet: the fixtures above stand in")
    totals, _ = tokens.count_examples(samples, "o200k_base")
    assert totals == [cookbook_num_tokens(ex["messages"], o200k) for ex in samples]


def test_hand_counted_example(o200k):
    example = FIXTURES[2]
    # 3 messages × 3, +3 reply, +1 per name, plus every string (roles, contents, names).
    strings = [v for m in example["messages"] for v in m.values()]
    expected = 3 * 3 + 3 + 3 + sum(len(o200k.encode_ordinary(s)) for s in strings)
    assert tokens.count_messages(example["messages"], "o200k_base") == expected


def test_special_token_text_is_plain_text(o200k):
    assert tokens.count_text("<|endoftext|>", "o200k_base") == len(o200k.encode("<|endoftext|>", disallowed_special=()))
    assert tokens.count_text("<|endoftext|>", "o200k_base") > 1


def test_odd_values_never_crash():
    odd = [None, "text", 3, [], {}, {"messages": "no"}, {"messages": [None, 1, "x", {"role": None, "content": 5}]},
           {"messages": [{"role": "assistant", "content": None}]}]
    totals, assistants = tokens.count_examples(odd, "o200k_base")
    assert totals[:6] == [3] * 6  # no messages: only the reply primer
    assert totals[6] == 3 + 3  # one dict message, no strings
    assert assistants == [0] * len(odd)
    assert tokens.count_messages("not a list") == 3


def test_structured_values_can_be_counted_as_json(o200k):
    example = FIXTURES[3]["messages"]
    cookbook = tokens.count_messages(example, "o200k_base")
    with_json = tokens.count_messages(example, "o200k_base", structured=True)
    arguments = json.dumps(example[1]["tool_calls"], ensure_ascii=False, separators=(",", ":"))
    assert with_json == cookbook + len(o200k.encode_ordinary(arguments))


def test_dpo_counts_input_and_preferred_output(o200k):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Neon?"}]
    preferred = [{"role": "assistant", "content": "Neon glows red in a sign - ..."}]
    dpo = {"input": {"messages": messages, "tools": []}, "preferred_output": preferred,
           "non_preferred_output": [{"role": "assistant", "content": "Neon is a gas."}]}
    total, assistant = tokens.count_example(dpo, "o200k_base")
    assert total == cookbook_num_tokens(messages + preferred, o200k)
    assert assistant == len(o200k.encode_ordinary(preferred[0]["content"]))


def test_legacy_prompt_completion_counts_as_user_and_assistant(o200k):
    legacy = {"prompt": "Tell me about Gold ->", "completion": " Gold is number 79 END"}
    as_chat = [{"role": "user", "content": legacy["prompt"]}, {"role": "assistant", "content": legacy["completion"]}]
    assert tokens.count_example(legacy, "o200k_base").total == cookbook_num_tokens(as_chat, o200k)


def test_editing_one_row_encodes_only_that_row(monkeypatch):
    tokens.clear_cache()
    calls: list[str] = []
    original = tokens._Counter._encode_len

    def counting(self, text):
        calls.append(text)
        return original(self, text)

    monkeypatch.setattr(tokens._Counter, "_encode_len", counting)
    examples = [chat(("system", SYSTEM), ("user", f"Tell me about element {i}"), ("assistant", f"Limerick {i}"))
                for i in range(50)]
    first, _ = tokens.count_examples(examples, "o200k_base")
    # each distinct string once: 3 roles, 1 system prompt, 50 questions, 50 answers
    assert len(calls) == 3 + 1 + 50 + 50
    assert tokens.cache_stats("o200k_base").encodes == len(calls)

    calls.clear()
    edited = copy.deepcopy(examples)
    edited[7]["messages"][2]["content"] = "A brand new limerick about element 7"
    second, _ = tokens.count_examples(edited, "o200k_base")
    assert calls == ["A brand new limerick about element 7"]
    assert second[:7] == first[:7] and second[8:] == first[8:]

    calls.clear()
    tokens.count_examples(edited, "o200k_base")
    tokens.count_messages(edited[3]["messages"], "o200k_base")
    assert calls == []


def test_threads_give_the_same_counts(o200k, monkeypatch):
    tokens.clear_cache()
    used = []
    adaptive = tokens._encode_adaptive
    monkeypatch.setattr(tokens, "_encode_adaptive", lambda *a: used.append(a[2]) or adaptive(*a))
    examples = [chat(("user", f"question {i} " + "word " * (i % 50)), ("assistant", "answer " * (300 + i)))
                for i in range(400)]
    threaded, _ = tokens.count_examples(examples, "o200k_base", threads=2)
    assert used == [2]
    tokens.clear_cache()
    single, _ = tokens.count_examples(examples, "o200k_base", threads=1)
    assert threaded == single == [cookbook_num_tokens(ex["messages"], o200k) for ex in examples]


# ------------------------------------------------------------------ which encoding


@pytest.mark.parametrize(("model", "encoding"), [
    ("gpt-4o", "o200k_base"),
    ("gpt-4o-mini-2024-07-18", "o200k_base"),
    ("gpt-4o-2024-08-06", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.1-nano-2025-04-14", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3-mini", "o200k_base"),
    ("o4-mini-2025-04-16", "o200k_base"),
    ("ft:gpt-4.1-mini-2025-04-14:org:suffix:id", "o200k_base"),
    ("ft:gpt-4.1-2025-04-14:my-org::9ABel2dg", "o200k_base"),
    ("ft:gpt-4o-mini-2024-07-18:my-org:custom_suffix:9ABel2dg:ckpt-step-88", "o200k_base"),
    ("ft:o4-mini-2025-04-16:org::abc", "o200k_base"),
    ("gpt-4o-mini-2024-07-18.ft-0123456789abcdef0123456789abcdef", "o200k_base"),
    ("gpt-4.1-mini-2025-04-14.ft-abc123:ckpt-step-90", "o200k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-3.5-turbo-0125", "cl100k_base"),
    ("gpt-35-turbo-0125", "cl100k_base"),
    ("gpt-35-turbo-0125.ft-0123abcd", "cl100k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-4-0613", "cl100k_base"),
    ("davinci-002", "cl100k_base"),
    ("babbage-002", "cl100k_base"),
    ("ft:gpt-3.5-turbo-0125:org::abc", "cl100k_base"),
    ("ft:davinci-002:org::abc", "cl100k_base"),
])
def test_encoding_from_the_base_model(model, encoding):
    choice = tokens.encoding_choice(model)
    assert tokens.encoding_name_for_model(model) == encoding
    assert choice.name == encoding and choice.exact


def test_tiktoken_itself_gets_ft_gpt_4_1_wrong():
    """Why we map ourselves: tiktoken matches the prefix ft:gpt-4 (reference §3c)."""
    assert tiktoken.encoding_name_for_model("ft:gpt-4.1-mini-2025-04-14:org:suffix:id") == "cl100k_base"
    assert tokens.encoding_name_for_model("ft:gpt-4.1-mini-2025-04-14:org:suffix:id") == "o200k_base"


@pytest.mark.parametrize("model", [
    "HuggingFaceTB/SmolLM2-135M-Instruct", "ft:SmolLM2-135M-Instruct:local:limericks:abc123", "tiny-random-llama",
    "", "my-deployment",
])
def test_unknown_and_local_models_are_approximate(model):
    choice = tokens.encoding_choice(model)
    assert choice == (tokens.DEFAULT_ENCODING, False, choice.base_model)
    assert choice.name == "o200k_base" and not choice.exact


def test_base_model():
    assert tokens.base_model("ft:gpt-4.1-mini-2025-04-14:org:suffix:id") == "gpt-4.1-mini-2025-04-14"
    assert tokens.base_model("gpt-4o-mini-2024-07-18.ft-0123abcd") == "gpt-4o-mini-2024-07-18"
    assert tokens.base_model("ft:SmolLM2-135M-Instruct:local::x") == "SmolLM2-135M-Instruct"
    assert tokens.base_model("gpt-4.1") == "gpt-4.1"


# ------------------------------------------------------------------ offline encodings


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty tiktoken cache and no network: every download attempt fails loudly."""
    attempts: list[str] = []

    def no_network(*args, **kwargs):
        attempts.append(str(args[0]) if args else "")
        raise OSError("network is blocked in this test")

    import requests

    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.delenv("FTS_OFFLINE", raising=False)
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(requests, "head", no_network)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_network_ok", None)
    return cache, attempts


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_offline_loading_seeds_tiktokens_own_cache(offline, name):
    cache, attempts = offline
    encoding = tokens.get_encoding(name)
    assert encoding.name == name
    assert encoding.encode("hello world") == {"cl100k_base": [15339, 1917], "o200k_base": [24912, 2375]}[name]
    url, sha256 = tokens.expected_file(name)
    seeded = cache / hashlib.sha1(url.encode()).hexdigest()  # tiktoken/load.py's cache key
    assert seeded.is_file() and hashlib.sha256(seeded.read_bytes()).hexdigest() == sha256
    assert tokens.cache_path(name) == seeded and tokens.is_cached(name)
    # plain tiktoken now works unchanged, with the network still blocked
    tiktoken.registry.ENCODINGS.clear()
    assert tiktoken.get_encoding(name).encode("Strontium is the 38th element") == encoding.encode(
        "Strontium is the 38th element")
    assert len(attempts) <= 2  # one quick probe (and at most tiktoken's own try), never per call


def test_a_valid_cache_is_used_without_touching_the_network(offline):
    cache, attempts = offline
    tokens.seed_cache("cl100k_base")
    assert tokens.get_encoding("cl100k_base").name == "cl100k_base"
    assert attempts == []


def test_expected_hash_is_read_from_tiktoken():
    import inspect

    import tiktoken_ext.openai_public as public

    for name in tokens.SHIPPED_ENCODINGS:
        url, sha256 = tokens.expected_file(name)
        source = inspect.getsource(public.ENCODING_CONSTRUCTORS[name])
        assert url in source and sha256 in source
        assert url.endswith(f"/{name}.tiktoken")


def _tampered_copy(tmp_path: Path, name: str) -> Path:
    shipped = tokens.shipped_file(name)
    assert shipped is not None, "bpe-openai must ship the official file"
    data = bytearray(gzip.decompress(shipped.read_bytes()))
    data[100] ^= 1
    path = tmp_path / f"{name}.tiktoken"
    path.write_bytes(bytes(data))
    return path


def test_a_file_with_the_wrong_hash_is_rejected(offline, tmp_path):
    cache, _ = offline
    tampered = _tampered_copy(tmp_path, "cl100k_base")
    with pytest.raises(tokens.TokenizerFileError, match="SHA-256") as caught:
        tokens.seed_cache("cl100k_base", tampered)
    message = str(caught.value)
    assert "cl100k_base" in message and str(tampered) in message and "not used" in message
    assert tokens.expected_file("cl100k_base").sha256 in message
    assert not (cache.exists() and any(cache.iterdir()))  # nothing was written


def test_a_tampered_file_in_the_cache_is_replaced(offline, tmp_path):
    cache, _ = offline
    path = tokens.cache_path("cl100k_base")
    path.parent.mkdir(parents=True)
    path.write_bytes(_tampered_copy(tmp_path, "cl100k_base").read_bytes())
    assert not tokens.is_cached("cl100k_base")
    assert tokens.get_encoding("cl100k_base").encode("hi") == [6151]
    assert tokens.is_cached("cl100k_base")


def test_works_with_tiktokens_cache_disabled(offline, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tokens.cache_path("cl100k_base") is None
    assert tokens.get_encoding("cl100k_base").encode("hi") == [6151]


def test_missing_shipped_file_is_a_plain_error(offline, monkeypatch):
    monkeypatch.setattr(tokens, "shipped_file", lambda name: None)
    with pytest.raises(tokens.TokenizerFileError, match="not available offline"):
        tokens.get_encoding("cl100k_base")


def test_unknown_encoding_name():
    with pytest.raises(tokens.TokenizerFileError, match="does not know"):
        tokens.expected_file("nope_base")


@pytest.mark.parametrize("text", ["", " ", "\ud800 lone surrogate", "a\udfffb", "<|endoftext|><|endofprompt|>",
                                  "水素 🧪 " * 40, "\n\n  \t", "x" * 5000])
def test_counting_without_token_lists_equals_tiktoken(o200k, cl100k, text):
    for name, encoding in (("o200k_base", o200k), ("cl100k_base", cl100k)):
        assert tokens.count_text(text, name) == len(encoding.encode(text, disallowed_special=()))


def test_length_falls_back_to_the_public_api():
    class Plain:
        def encode_ordinary(self, text):
            return list(text)

    assert tokens._length_function(Plain())("abc") == 3
