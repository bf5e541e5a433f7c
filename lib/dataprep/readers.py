"""Reading a dataset from a file's bytes or pasted text, in every format: `parse`, `load_file`, `from_table`.

The formats: chat JSONL or a JSON array, CSV, TSV and Excel tables (`read_table`; which column holds
what is guessed by `guess_column_map`), legacy prompt/completion (converted to chat), DPO pairs, and
pasted text. A failure is a `ParseError` naming the line; when only some lines are broken, the error
carries the rows that could be read.

Pasted text (`parse(text)` without a file name, or a `.txt` file) may be:
  * JSONL or a JSON array, exactly as in a file;
  * a table copied from a spreadsheet (tab-separated, with a header row such as `question<TAB>answer`);
  * labelled blocks: a line starting `Q:` (or `Question:`, `User:`, `Prompt:`) starts a new example and
    `A:` (or `Answer:`, `Assistant:`, `Response:`) starts its answer; lines without a label continue the
    text above them (so a five-line limerick after `A:` stays one answer, line breaks kept).
    `System:` sets the system prompt for the examples that follow it;
  * otherwise alternating paragraphs separated by blank lines: question, answer, question, answer...
    (a question left without an answer gets an empty one, which validation then points at).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lib.dataprep.dataset import (
    DEFAULT_SYSTEM_PROMPT,
    Dataset,
    Format,
    ParseError,
    conversation,
    make_example,
    split_by_column,
)

if TYPE_CHECKING:  # pandas is imported lazily: `python -m lib check` should not pay for it
    import pandas as pd

# Column fields a table can map: the three roles, a split column, and a "json" column that carries a
# whole example (what `to_csv` writes for multi-turn rows, so a CSV round trip loses nothing).
MAPPABLE = ("system", "user", "assistant", "split", "json")


def _with_lines(dataset: Dataset, lines: list[int]) -> Dataset:
    dataset._lines = list(lines)  # type: ignore[attr-defined]
    return dataset


# --------------------------------------------------------------------------------------------- parsing


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ParseError(
            line,
            f"Line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}): "
            "save the file as UTF-8 and import it again.",
        ) from None


_FIRST_NON_SPACE = re.compile(r"\s*")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _loads(text: str) -> Any:
    """One JSON value. orjson reads a line in about two thirds of the time (a 100,000-line file is read
    in a third of a second less); what it refuses goes to the standard library, which gives the error
    message and column we show, and reads the few values orjson does not (a lone surrogate escape, an
    integer wider than 64 bits). NaN and Infinity are refused by both."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text, parse_constant=_no_constants)


def _json_error(line: int, exc: Exception) -> ParseError:
    if isinstance(exc, json.JSONDecodeError):
        where = "column" if exc.msg.endswith(" at") else "at column"
        return ParseError(line, f"Line {line} is not valid JSON: {exc.msg} {where} {exc.colno}.")
    return ParseError(line, f"Line {line} is not valid JSON: {exc}.")


def _parse_json_text(text: str) -> tuple[list[Any], list[int], list[ParseError]]:
    """JSONL (one value per line; blank lines skipped, numbering kept), or one JSON array / object.
    Returns the values, their line numbers, and an error for every line that is not JSON."""
    start = _FIRST_NON_SPACE.match(text).end()  # where the content starts, without copying 100 MB to find out
    if text.startswith("[", start):
        stripped = text.strip()
        try:
            whole = _loads(stripped)
        except (json.JSONDecodeError, ValueError) as exc:
            first = next(line for line in text.split("\n") if line.strip())
            try:  # a JSONL file whose first line happens to be an array: read it line by line below
                _loads(first)
            except (json.JSONDecodeError, ValueError):
                lineno = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
                offset = len(text) - len(text.lstrip())
                lineno += text[:offset].count("\n")
                raise _json_error(lineno, exc) from None
        else:
            if isinstance(whole, list):
                return whole, list(range(1, len(whole) + 1)), []
    values: list[Any] = []
    lines: list[int] = []
    broken: list[ParseError] = []
    quick = orjson.loads
    for number, raw in enumerate(text.split("\n"), start=1):
        try:  # most lines: orjson reads them as they are (JSON's own spacing around a value is allowed)
            values.append(quick(raw))
            lines.append(number)
            continue
        except orjson.JSONDecodeError:
            pass
        line = raw.strip()
        if not line:
            continue
        try:
            values.append(_loads(line))
        except (json.JSONDecodeError, ValueError) as exc:
            if not broken:
                try:  # a single pretty-printed object spread over several lines
                    whole = _loads(text.strip())
                except (json.JSONDecodeError, ValueError):
                    pass
                else:
                    first_line = len(text[: len(text) - len(text.lstrip())].split("\n"))
                    return [whole], [first_line], []
            broken.append(_json_error(number, exc))
            continue
        lines.append(number)
    return values, lines, broken


def _broken_lines_error(broken: list[ParseError], readable: Dataset | None) -> ParseError:
    """One error naming every broken line (the first one's sentence alone when there is just one)."""
    if len(broken) == 1:
        first = broken[0]
        return ParseError(first.line, first.message, readable=readable)
    numbers = [str(e.line) for e in broken]
    listed = ", ".join(numbers[:-1]) + f" and {numbers[-1]}"
    message = f"Lines {listed} are not valid JSON. " + " ".join(e.message for e in broken)
    return ParseError(broken[0].line, message, broken=[(e.line or 0, e.message) for e in broken], readable=readable)


_SEPARATORS = ("\n\n###\n\n", "\n\n###\n", "###", "\n\n", "->", " ->", "\n")
_STOPS = (" END", "END", "###")


def _common_suffix(texts: list[str], candidates: Sequence[str]) -> str:
    for suffix in candidates:
        if texts and all(t.endswith(suffix) for t in texts):
            return suffix
    return ""


def _is_legacy(value: Any) -> bool:
    return isinstance(value, dict) and "prompt" in value and "completion" in value and "messages" not in value


def _is_dpo(value: Any) -> bool:
    return isinstance(value, dict) and "messages" not in value and (
        "preferred_output" in value or "non_preferred_output" in value or "input" in value
    )


def _convert_legacy(values: list[Any], system_prompt: str) -> list[Any]:
    """Legacy lines became chat: the separator every prompt ends with and the stop sequence every
    completion ends with (the old format's conventions) are removed, then both are trimmed."""
    prompts = [v["prompt"] for v in values if _is_legacy(v) and isinstance(v["prompt"], str)]
    completions = [v["completion"] for v in values if _is_legacy(v) and isinstance(v["completion"], str)]
    separator = _common_suffix(prompts, _SEPARATORS)
    stop = _common_suffix([c.rstrip() for c in completions], _STOPS)
    out: list[Any] = []
    for value in values:
        if not _is_legacy(value):
            out.append(value)
            continue
        prompt, completion = value["prompt"], value["completion"]
        if isinstance(prompt, str):
            prompt = prompt.removesuffix(separator).strip() if separator else prompt.strip()
        if isinstance(completion, str):
            completion = completion.rstrip().removesuffix(stop).strip()
        out.append(make_example(prompt, completion, system_prompt))
    return out


def _from_values(values: list[Any], lines: list[int], name: str, system_prompt: str) -> Dataset:
    objects = [v for v in values if isinstance(v, dict)]
    fmt: Format = "chat"
    if objects and all(_is_legacy(v) for v in objects):
        fmt = "legacy"
        values = _convert_legacy(values, system_prompt)
    elif objects and sum(_is_dpo(v) for v in objects) > len(objects) / 2:
        fmt = "dpo"
    found = _system_of_values(values)
    dataset = Dataset(
        name=name,
        examples=values,
        format=fmt,
        split=["train"] * len(values),
        system_prompt=found if found is not None else system_prompt,
    )
    return _with_lines(dataset, lines)


def _system_of_values(values: list[Any]) -> str | None:
    """The system prompt most examples use (what "Apply to all rows" should offer), if any."""
    counts: dict[str, int] = {}
    for value in values:
        messages = value.get("messages") if type(value) is dict else None
        if type(messages) is list and messages and type(head := messages[0]) is dict and \
                head.get("role") == "system" and type(content := head.get("content")) is str:
            counts[content] = counts.get(content, 0) + 1  # most rows: the system prompt comes first
            continue
        for message in conversation(value):
            if message.get("role") == "system" and isinstance(message.get("content"), str):
                counts[message["content"]] = counts.get(message["content"], 0) + 1
                break
    return max(counts, key=lambda k: counts[k]) if counts else None


def parse(
    data: bytes | str,
    filename: str = "",
    *,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    column_map: dict[str, str] | None = None,
) -> Dataset:
    """Read a dataset from a file's bytes or pasted text. The format comes from the file name's
    extension when there is one, else from the content. `column_map` ({"user": "question", ...}) says
    which table column holds which role; without it the columns are guessed. Raises ParseError."""
    suffix = Path(filename).suffix.lower()
    name = Path(filename).stem if filename and Path(filename).stem not in ("", "pasted") else "untitled"
    if suffix in (".xlsx", ".xlsm") or (isinstance(data, bytes) and data[:4] == b"PK\x03\x04"):
        return _from_table(read_table(data, filename or "data.xlsx"), name, system_prompt, column_map, 2)
    text = _decode(data)
    if not text or text.isspace():
        raise ParseError(None, "The file is empty: add your examples, one per line.")
    if suffix in (".csv", ".tsv"):
        return _from_table(read_table(text, filename), name, system_prompt, column_map, 2)
    if text.lstrip()[:1] in ("{", "[") or suffix in (".jsonl", ".json"):
        values, lines, broken = _parse_json_text(text)
        if broken:
            readable = _from_values(values, lines, name, system_prompt) if values else None
            raise _broken_lines_error(broken, readable)
        return _from_values(values, lines, name, system_prompt)
    table = _pasted_table(text)
    if table is not None:
        offset = len(text[: len(text) - len(text.lstrip("\r\n"))].split("\n"))
        return _from_table(table, name, system_prompt, column_map, offset + 1)
    return _parse_plain_text(text, name, system_prompt)


def from_table(
    frame: pd.DataFrame,
    filename: str = "",
    *,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    column_map: dict[str, str] | None = None,
) -> Dataset:
    """`parse` for a table already read with `read_table` (the import panel reads a CSV or Excel file
    once, shows it, then imports the same frame). Raises ParseError."""
    name = Path(filename).stem if filename and Path(filename).stem not in ("", "pasted") else "untitled"
    return _from_table(frame, name, system_prompt, column_map, 2)


def load_file(path: str | Path) -> Dataset:
    """Read a dataset file; a missing or unreadable file is a ParseError too (one plain sentence)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParseError(None, f"There is no file at {path}.") from None
    except IsADirectoryError:
        raise ParseError(None, f"{path} is a folder, not a dataset file.") from None
    except OSError as exc:
        raise ParseError(None, f"{path} cannot be read: {exc.strerror or exc}.") from None
    dataset = parse(data, path.name)
    dataset.name = path.stem
    return dataset


# ------------------------------------------------------------------------------------- pasted text

_LABEL = re.compile(
    r"^\s*(?P<label>system|q|question|user|prompt|a|answer|assistant|response)\s*[:：]\s?(?P<rest>.*)$",
    re.IGNORECASE,
)
_ROLE_OF_LABEL = {
    "system": "system",
    "q": "user", "question": "user", "user": "user", "prompt": "user",
    "a": "assistant", "answer": "assistant", "assistant": "assistant", "response": "assistant",
}


def _pasted_table(text: str) -> pd.DataFrame | None:
    """Cells copied from a spreadsheet arrive tab-separated; use them when the header names a user and
    an assistant column."""
    header = text.lstrip("\r\n").split("\n", 1)[0]
    if "\t" not in header:
        return None
    guess = guess_column_map([c.strip() for c in header.rstrip("\r").split("\t")])
    if "user" not in guess or "assistant" not in guess:
        return None
    return read_table(text.lstrip("\r\n"), "pasted.tsv")


def _parse_plain_text(text: str, name: str, system_prompt: str) -> Dataset:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    labelled = any(
        (m := _LABEL.match(line)) and _ROLE_OF_LABEL[m["label"].lower()] != "system" for line in lines
    )
    examples: list[Any] = []
    numbers: list[int] = []
    if labelled:
        system = system_prompt
        system_parts: list[str] = []
        current: dict[str, Any] | None = None
        role: str | None = None

        def finish() -> None:
            if current is not None:
                examples.append(
                    make_example(_join(current["user"]), _join(current["assistant"]), current["system"])
                )
                numbers.append(current["line"])

        for number, line in enumerate(lines, start=1):
            match = _LABEL.match(line)
            if match:
                role = _ROLE_OF_LABEL[match["label"].lower()]
                rest = match["rest"]
                if role == "system":
                    system_parts = [rest]
                    system = rest.strip()
                elif role == "user" or current is None or current["assistant"] is not None:
                    finish()
                    current = {"line": number, "system": system, "user": [], "assistant": None}
                    if role == "user":
                        current["user"] = [rest]
                    else:
                        current["assistant"] = [rest]
                else:
                    current["assistant"] = [rest]
                continue
            if role is None:
                if line.strip():
                    raise ParseError(
                        number,
                        f"Line {number} comes before the first question: start each example with "
                        "'Q:' and its answer with 'A:'.",
                    )
                continue
            if role == "system":
                system_parts.append(line)
                system = _join(system_parts)
            elif current is not None:
                current["assistant" if current["assistant"] is not None else "user"].append(line)
        finish()
    else:
        paragraphs: list[tuple[int, list[str]]] = []
        buffer: list[str] = []
        start = 0
        for number, line in enumerate(lines, start=1):
            if line.strip():
                if not buffer:
                    start = number
                buffer.append(line)
            elif buffer:
                paragraphs.append((start, buffer))
                buffer = []
        if buffer:
            paragraphs.append((start, buffer))
        for i in range(0, len(paragraphs), 2):
            question = _join(paragraphs[i][1])
            answer = _join(paragraphs[i + 1][1]) if i + 1 < len(paragraphs) else ""
            examples.append(make_example(question, answer, system_prompt))
            numbers.append(paragraphs[i][0])
    if not examples:
        raise ParseError(None, "The text has no examples: write 'Q:' before each question and 'A:' before its answer.")
    dataset = Dataset(name=name, examples=examples, split=["train"] * len(examples), system_prompt=system_prompt)
    return _with_lines(dataset, numbers)


def _join(parts: list[str] | None) -> str:
    return "\n".join(parts or []).strip()


# ------------------------------------------------------------------------------------------ tables


def read_table(data: bytes | str, filename: str) -> pd.DataFrame:
    """A CSV (comma, semicolon or tab separated), TSV or Excel sheet as text cells (empty cells are "",
    numbers become their text). Raises ParseError."""
    import pandas as pd

    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or (isinstance(data, bytes) and data[:4] == b"PK\x03\x04"):
        raw = data if isinstance(data, bytes) else data.encode("utf-8")
        try:
            frame = pd.read_excel(io.BytesIO(raw), engine="openpyxl", dtype=object, header=0)
        except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, InvalidFileException)
            raise ParseError(None, f"{filename or 'The file'} is not an Excel workbook that can be read ({exc}).") from None
        frame = frame.map(_cell_text)
    else:
        text = _decode(data)
        if not text.strip():
            raise ParseError(None, "The file is empty: add a header row (user, assistant) and your examples.")
        sep = "\t" if suffix == ".tsv" else _sniff_separator(text)
        try:
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False)
        except pd.errors.ParserError as exc:
            match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
            if match:
                expected, line, saw = match.groups()
                raise ParseError(
                    int(line),
                    f"Line {line} has {saw} cells but the header has {expected}: put quotes around text "
                    "that contains the separator.",
                ) from None
            raise ParseError(None, f"The table cannot be read: {exc}.") from None
        except pd.errors.EmptyDataError:
            raise ParseError(None, "The file is empty: add a header row (user, assistant) and your examples.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sniff_separator(text: str) -> str:
    header = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


_SYNONYMS: dict[str, tuple[str, ...]] = {
    "system": ("system", "systemprompt", "systemmessage", "system_prompt", "persona", "instructions"),
    "user": ("user", "question", "prompt", "instruction", "input", "query", "q", "usermessage", "human",
             "request", "questions", "prompts"),
    "assistant": ("assistant", "answer", "response", "output", "completion", "reply", "a", "assistantmessage",
                  "bot", "gpt", "target", "answers", "responses", "limerick"),
    "split": ("split", "set", "subset", "fold", "partition"),
    "json": ("json", "example"),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_column_map(columns: Iterable[Any]) -> dict[str, str]:
    """Which column holds what, from the names: {"user": "question", "assistant": "answer", ...}.
    Exact names win over synonyms, synonyms over names that merely contain one."""
    columns = [str(c) for c in columns]
    found: dict[str, str] = {}
    used: set[str] = set()
    for strict in (True, False):
        for role in MAPPABLE:
            if role in found:
                continue
            for synonym in _SYNONYMS[role]:
                target = _norm(synonym)
                match = next(
                    (c for c in columns if c not in used and (
                        _norm(c) == target if strict else (len(target) > 3 and target in _norm(c))
                    )),
                    None,
                )
                if match is not None:
                    found[role] = match
                    used.add(match)
                    break
    return found


def _from_table(
    frame: pd.DataFrame, name: str, system_prompt: str, column_map: dict[str, str] | None, first_line: int
) -> Dataset:
    """Rows to examples. `first_line` is the line (spreadsheet row) of the first data row."""
    columns = [str(c) for c in frame.columns]
    mapping = {k: v for k, v in (column_map or guess_column_map(columns)).items() if v}
    for column in mapping.values():
        if column not in columns:
            raise ParseError(None, f"There is no column called '{column}' in the table (it has: {', '.join(columns)}).")
    if "json" not in mapping:
        for role, what in (("user", "the user's question"), ("assistant", "the assistant's answer")):
            if role not in mapping:
                raise ParseError(
                    None,
                    f"Choose the column that holds {what} (the table has: {', '.join(columns) or 'no columns'}).",
                )
    examples: list[Any] = []
    lines: list[int] = []
    split_values: list[str] = []
    for position, (_, row) in enumerate(frame.iterrows()):
        line = first_line + position
        cells = {role: _cell_text(row[column]) for role, column in mapping.items()}
        if not any(v.strip() for v in cells.values()):
            continue
        if cells.get("json", "").strip():
            try:
                example = _loads(cells["json"])
            except (json.JSONDecodeError, ValueError) as exc:
                raise ParseError(line, f"Line {line}'s json cell is not valid JSON: {getattr(exc, 'msg', exc)}.") from None
        else:
            system = cells.get("system", "").strip() or system_prompt
            example = make_example(cells.get("user", ""), cells.get("assistant", ""), system)
        examples.append(example)
        lines.append(line)
        split_values.append(cells.get("split", ""))
    if not examples:
        raise ParseError(None, "The table has no rows with examples.")
    try:
        split = split_by_column(split_values) if "split" in mapping else ["train"] * len(examples)
    except ValueError as exc:
        raise ParseError(None, str(exc)) from None
    found = _system_of_values(examples)
    dataset = Dataset(name=name, examples=examples, split=split,
                      system_prompt=found if found is not None else system_prompt)
    return _with_lines(dataset, lines)
