"""The stakeholder report: one self-contained HTML file, every section optional, every text escaped."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from lib.evaluation import report
from lib.evaluation.blind_votes import Vote
from lib.evaluation.comparison import BatchResult, Reply

LIMERICK = ("There once was an element bright,\ncalled strontium, burning red light;\nwith number thirty-eight,\n"
            "its fireworks look great,\nand they sparkle all over the night.")

LIMERICK_CHECK = {"limerick": {"score": 95, "is_limerick": True, "problems": []},
                  "facts": {"element": "Strontium", "claims": [{"text": "thirty-eight", "stated": 38, "actual": 38,
                                                                 "verdict": "supported"}]}}
PROSE_CHECK = {"limerick": {"score": 10, "is_limerick": False, "problems": ["It has 1 line; a limerick has 5."]},
               "facts": {"element": "Strontium", "claims": [{"text": "the fortieth element", "stated": 40,
                                                              "actual": 38, "verdict": "contradicted"}]}}


def make_batch(n: int = 10, *, tuned_limericks: int = 9, hostile: bool = False) -> BatchResult:
    rows = []
    for i in range(n):
        tuned_text = LIMERICK if i < tuned_limericks else "Strontium is the fortieth element."
        base_text = "<script>alert('pwned')</script> Strontium is the fortieth element." if hostile and i == 0 \
            else "Strontium is the fortieth element."
        rows.append([
            Reply("Base", "gpt-4o-mini-2024-07-18", text=base_text, prompt_tokens=30, completion_tokens=20,
                  time_to_first_token=0.2, latency=0.8, cost_usd=0.000017, checks=PROSE_CHECK),
            Reply("Fine-tuned", "ft:gpt-4o-mini-2024-07-18:org::abc", text=tuned_text, prompt_tokens=30,
                  completion_tokens=40, time_to_first_token=0.3, latency=1.1, cost_usd=0.000057,
                  checks=LIMERICK_CHECK if i < tuned_limericks else PROSE_CHECK),
        ])
    contenders = [{"label": "Base", "model": "gpt-4o-mini-2024-07-18", "fine_tuned": False, "few_shot": 0},
                  {"label": "Fine-tuned", "model": "ft:gpt-4o-mini-2024-07-18:org::abc", "fine_tuned": True,
                   "few_shot": 0}]
    return BatchResult(contenders, [f"Tell me about element {i}" for i in range(n)], rows, system_prompt="Elle")


class Loads(HTMLParser):
    """Every attribute that would make a browser fetch something, and every CSS url()/@import."""

    LOADING = {("script", "src"), ("img", "src"), ("iframe", "src"), ("link", "href"), ("source", "src"),
               ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("img", "srcset"),
               ("input", "src"), ("track", "src")}

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.tags: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if (tag, name) in self.LOADING and value:
                self.fetches.append(f"<{tag} {name}={value}>")
            if name == "style" and value and re.search(r"url\(|@import", value):
                self.fetches.append(f"style {value}")

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style and re.search(r"url\(|@import", data):
            self.fetches.append("css url()/@import")


def external_loads(page: str) -> list[str]:
    parser = Loads()
    parser.feed(page)
    return parser.fetches


def test_report_with_every_section_is_one_self_contained_file(tmp_path):
    batch = make_batch(hostile=True)
    votes = [Vote(i, 0, 1, "right") for i in range(7)] + [Vote(7, 0, 1, "left"), Vote(8, 1, 0, "tie")]
    job = {"provider": "OpenAI", "model": "gpt-4o-mini-2024-07-18", "fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:org::abc",
           "dataset_version": "limericks v3", "epochs": 10, "estimated_cost": 0.31, "actual_cost": 0.29,
           "trained_tokens": 10_240, "status": "succeeded",
           "loss_curve": [{"step": s, "train_loss": 2.0 / s, "valid_loss": 2.2 / s if s % 10 == 0 else None}
                          for s in range(1, 101)]}
    dataset = {"name": "limericks", "examples": 10, "train": 9, "validation": 1, "valid": True, "errors": 0,
               "warnings": 1, "limericks": 10, "limerick_share": 1.0, "contradicted": 1}
    samples = [{"prompt": "Tell me about <b>strontium</b>", "replies": batch.replies[0]}]

    page = report.build_report(batch=batch, votes=votes, dataset=dataset, job=job, samples=samples,
                               title="Elle: fine-tuned vs base", date=dt.date(2026, 8, 20))
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    page = path.read_text(encoding="utf-8")

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for section in ('id="conclusion"', 'id="dataset"', 'id="job"', 'id="samples"', 'id="batch"'):
        assert section in page
    assert "20 August 2026" in page
    # Self-contained: nothing fetched from anywhere; plotly.js inline exactly once, not from a CDN.
    assert external_loads(page) == []
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert page.count("* plotly.js v") == 1 and "cdn.plot.ly/plotly" not in page
    assert page.count('class="plotly-graph-div"') == 4  # loss curve, win rate, form, cost
    # Escaped: the model's <script> is text, and so is the prompt's markup.
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "Tell me about &lt;b&gt;strontium&lt;/b&gt;" in page
    # Print-friendly.
    assert "@media print" in page and "break-before: page" in page
    # The contents a stakeholder looks for.
    assert "The fine-tuned model answered in limerick form 9 times out of 10; the base model 0 times." in page
    assert "limericks v3" in page and "$0.31" in page and "$0.29" in page
    assert "Reviewers preferred the fine-tuned model in 7 of 9 comparisons, the base model in 1 (1 tie)." in page
    assert "9 of 10 (90%)" in page  # limerick form in the scores table
    assert "the fortieth element: stated 40, actually 38" in page


def test_conclusion_reads_as_plain_language():
    summary = {
        "contenders": [
            {"index": 0, "label": "Base", "fine_tuned": False, "few_shot": 0, "form_checked": 10, "limericks": 0,
             "contradicted": 1, "cost_per_1000": 0.017},
            {"index": 1, "label": "Fine-tuned", "fine_tuned": True, "few_shot": 0, "form_checked": 10,
             "limericks": 9, "contradicted": 3, "cost_per_1000": 0.057},
        ],
        "pairs": [],
        "errors": 0,
    }
    assert report.conclusion(summary) == (
        "The fine-tuned model answered in limerick form 9 times out of 10; the base model 0 times. "
        "It got 3 facts wrong; the base model 1. "
        "Per 1,000 replies: the fine-tuned model $0.057, the base model $0.017."
    )


def test_conclusion_names_the_prompt_engineering_contender_and_local_costs():
    summary = {
        "contenders": [
            {"index": 0, "label": "SmolLM2", "fine_tuned": False, "few_shot": 0, "form_checked": 4, "limericks": 1,
             "contradicted": 0, "cost_per_1000": 0.0},
            {"index": 1, "label": "SmolLM2 + 3 examples", "fine_tuned": False, "few_shot": 3, "form_checked": 4,
             "limericks": 2, "contradicted": 2, "cost_per_1000": 0.0},
        ],
        "pairs": [],
        "errors": 1,
    }
    text = report.conclusion(summary)
    assert text.startswith("“SmolLM2” answered in limerick form 1 time out of 4; "
                           "the base model with examples in its prompt 2 times.")
    assert "All of them ran on this computer, at no cost per reply." in text
    assert "1 reply failed" in text


def test_a_report_from_just_a_batch_works_without_votes_or_charts():
    page = report.build_report(batch=make_batch(3), charts=False)
    assert 'id="batch"' in page and 'id="samples"' in page
    assert 'id="job"' not in page and 'id="dataset"' not in page
    assert "plotly" not in page.lower()
    assert "Human preferences" not in page
    assert external_loads(page) == []


def test_a_report_with_nothing_says_so():
    page = report.build_report()
    assert "Nothing to report yet" in page and external_loads(page) == []


def test_a_report_of_a_job_alone_draws_the_loss_curve_from_metrics_events():
    events = [{"type": "metrics", "data": {"step": s, "train_loss": 1.0 / s}} for s in range(1, 11)]
    page = report.build_report(job={"model": "SmolLM2", "hyperparameters": {"n_epochs": 3}, "metrics": events})
    assert 'id="job"' in page and ">3<" in page
    assert page.count('class="plotly-graph-div"') == 1 and page.count("* plotly.js v") == 1


def test_failed_replies_show_their_message_not_a_traceback():
    batch = make_batch(2)
    batch.replies[1][0] = Reply("Base", "gpt-4o-mini-2024-07-18", error="OpenAI is getting too many requests.")
    page = report.build_report(batch=batch, charts=False)
    assert "OpenAI is getting too many requests." in page and "Traceback" not in page


def test_dataset_summary_from_examples_counts_limericks_and_wrong_facts():
    pytest.importorskip("lib.checks.limerick")
    examples = [
        {"messages": [{"role": "system", "content": "Elle"}, {"role": "user", "content": "Tell me about strontium"},
                      {"role": "assistant", "content": LIMERICK}]},
        {"messages": [{"role": "user", "content": "Tell me about gold"}, {"role": "assistant", "content": "Gold."}]},
    ]
    summary = report.dataset_summary(examples)
    assert summary["examples"] == 2
    assert summary["limericks"] == 1 and summary["limerick_share"] == 0.5
    page = report.build_report(dataset=examples, charts=False)
    assert "Answers that are well-formed limericks" in page and "50% (1 of 2)" in page


@pytest.mark.browser
def test_the_report_opens_offline_in_a_browser_and_draws_its_charts(tmp_path, chromium):
    batch = make_batch(4, tuned_limericks=3, hostile=True)
    path = tmp_path / "report.html"
    path.write_text(report.build_report(batch=batch, votes=[Vote(0, 0, 1, "right")]), encoding="utf-8")
    context = chromium.new_context()
    try:
        page = context.new_page()
        requests, problems, dialogs = [], [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_selector(".main-svg")
        assert [u for u in requests if not u.startswith("file:")] == []
        assert problems == [] and dialogs == []
        assert page.locator(".js-plotly-plot").count() == 3
        assert "<script>alert('pwned')</script>" in page.inner_text("#samples")
    finally:
        context.close()


def test_dataset_summary_of_the_sample_dataset():
    from pathlib import Path

    readers = pytest.importorskip("lib.dataprep.readers")
    path = Path(__file__).resolve().parents[2] / "sample_data" / "elements_limericks.jsonl"
    if not path.exists():
        pytest.skip("sample_data/elements_limericks.jsonl is not there yet")
    dataset = readers.load_file(path)
    summary = report.dataset_summary(dataset)
    assert summary["examples"] == len(dataset.examples) and summary["name"] == dataset.name
    assert {"valid", "limericks", "limerick_share", "contradicted"} <= set(summary)
    page = report.build_report(dataset=dataset, charts=False)
    assert 'id="dataset"' in page and "Answers that are well-formed limericks" in page


def test_side_by_side_samples_may_be_saved_dicts():
    replies = [r.to_dict() for r in make_batch(1).replies[0]]  # as the page keeps them in session state
    page = report.build_report(samples=[{"prompt": "Tell me about strontium", "replies": replies}])
    assert 'id="samples"' in page and "a limerick" in page and "not a limerick" in page
    assert "1 fact wrong" in page and "cost $0.000017" in page


def test_a_label_with_a_link_is_text_in_the_report_charts_never_a_live_link():
    from lib.evaluation import blind_votes

    link = '<a href="https://evil.example/">click</a>'
    batch = make_batch()
    batch.contenders[1]["label"] = link
    for row in batch.replies:
        row[1].label = link
    votes = [Vote(i, 0, 1, "right") for i in range(5)]
    summary = blind_votes.summary(batch, votes)
    figures = [report.win_rate_figure(summary), report.form_figure(summary), report.cost_figure(summary)]
    labels = [str(x) for fig in figures if fig is not None for trace in fig.data for x in trace.x]
    assert any("click" in label for label in labels)
    assert not any("<a " in label for label in labels)  # Plotly would draw <a href> as a live link
    page = report.build_report(batch=batch, votes=votes, date=dt.date(2026, 8, 20))
    assert 'href="https://evil.example/"' not in page and "href=\\\"https://evil.example/\\\"" not in page
