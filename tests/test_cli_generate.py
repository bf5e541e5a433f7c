"""`python -m lib generate`: drafts with verdicts, only passing rows written, one plain line on failure."""

from __future__ import annotations

import json
from pathlib import Path

from lib.__main__ import main
from tests.plugins.writer import FOUR_LINES, GOOD_BERYLLIUM, GOOD_LITHIUM, WRONG_STRONTIUM

SAMPLE = str(Path(__file__).resolve().parents[1] / "sample_data" / "elements_limericks.jsonl")


def generate(server_url: str, *args: str) -> int:
    return main(["generate", SAMPLE, "--provider", "url", "--base-url", server_url, "--model", "stub-writer", *args])


def test_only_the_passing_rows_are_written_as_plain_jsonl(stub_writer, writer_server, tmp_path, capsys):
    stub_writer.queue(GOOD_LITHIUM, WRONG_STRONTIUM, GOOD_BERYLLIUM)
    out = tmp_path / "more.jsonl"
    code = generate(writer_server.url, "--count", "3", "--about", "Li,Sr,Be", "--rows-per-call", "1",
                    "--out", str(out))
    printed = capsys.readouterr().out
    assert code == 0
    assert "PASS  Tell me about Lithium: passes every check" in printed
    assert "FAIL  Tell me about Strontium: element facts: atomic number: the answer says 40, Strontium has 38" in printed
    assert "2 of 3 drafts pass every check; wrote 2 to" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["messages"][1]["content"] for r in rows] == ["Tell me about Lithium", "Tell me about Beryllium"]
    assert all(set(r) == {"messages"} for r in rows)


def test_keep_failing_writes_every_draft_and_json_gives_each_check(stub_writer, writer_server, tmp_path, capsys):
    stub_writer.queue(GOOD_LITHIUM, FOUR_LINES)
    out = tmp_path / "all.jsonl"
    topics = tmp_path / "topics.txt"
    topics.write_text("Lithium\nBoron\n")
    code = generate(writer_server.url, "--count", "2", "--about-file", str(topics), "--rows-per-call", "1",
                    "--out", str(out), "--keep-failing", "--json")
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["passed"] == 1 and report["error"] is None
    assert [d["passed"] for d in report["drafts"]] == [True, False]
    assert report["drafts"][1]["checks"]["limerick"] == {"ok": False, "message": "found 4 lines; a limerick has 5"}
    assert report["estimate"]["calls"] == 2 and report["estimate"]["dollars"] is None
    assert report["took"]["calls"] == 2
    assert len(out.read_text().splitlines()) == 2


def test_a_fault_is_one_plain_line_and_a_non_zero_exit(stub_writer, writer_server, make_fault_proxy, capsys):
    stub_writer.queue(GOOD_LITHIUM)
    proxy = make_fault_proxy(writer_server.url)
    proxy.fail(401)
    code = generate(proxy.url, "--count", "1")
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "did not accept the API key" in err and "Traceback" not in err


def test_a_missing_file_and_a_bad_count_are_plain_lines(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "nope.jsonl"), "--count", "2", "--provider", "local"]) == 1
    assert capsys.readouterr().err.strip() == f"No such file: {tmp_path / 'nope.jsonl'}"
    assert main(["generate", SAMPLE, "--count", "0", "--provider", "url", "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "m"]) == 1
    assert capsys.readouterr().err.strip() == "Ask for at least one row."
