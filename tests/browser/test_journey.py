"""The whole journey in a real browser, as a newcomer meets it (issue 11).

Home → load the sample → fix its seeded mistake in the table → validation turns green → Estimate (tokens,
dollars on the hosted models, time on this machine) → train SmolLM2-135M-Instruct on the local engine and
watch it → Playground: base vs fine-tuned on a held-out element → a comparison on held-out prompts →
the report, downloaded and opened from disk with no network.
"""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest

from lib.dataprep.workspace import Workspace
from tests.browser.conftest import Walk, grid_rows, record_timing

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HELD_OUT = REPO / "sample_data" / "held_out_prompts.jsonl"
COPPER = ("Copper's twenty-nine, and it's red, - Running power through wires, it is said; - "
          "In a penny it's found, - And it's mined from the ground, - Since the Bronze Age it's gone far ahead.")
TRAIN_DEADLINE_S = 1200  # the real model: about a minute or two on 2 idle cores, far more on a busy machine
REPLY_DEADLINE_S = 300


def metrics(walk: Walk) -> dict[str, str]:
    """st.metric label -> value, as shown."""
    found = {}
    for box in walk.page.locator('[data-testid="stMetric"]').all():
        label = box.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        found[label] = box.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return found


def loss_points(walk: Walk) -> int:
    """How many points the loss chart draws (0 while it is not there)."""
    chart = walk.page.locator(".st-key-train_loss_chart")
    if not chart.count():
        return 0
    return walk.page.evaluate(
        "() => { const el = document.querySelector('.st-key-train_loss_chart .js-plotly-plot');"
        " return el && el.data ? el.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) : 0; }")


def plotly_bars(walk: Walk, title: str) -> dict[str, float]:
    """label -> value of the horizontal bar chart titled `title`, as Plotly drew it."""
    chart = walk.page.locator(".js-plotly-plot").filter(has_text=title)
    chart.scroll_into_view_if_needed()
    chart.locator(".bars").first.wait_for(state="attached")
    data = chart.evaluate("el => el.data.map(t => ({x: Array.from(t.x), y: Array.from(t.y)}))")
    return {label: float(value) for trace in data for value, label in zip(trace["x"], trace["y"], strict=True)}


def progress_step(walk: Walk) -> int | None:
    for text in walk.page.locator('[data-testid="stProgress"]').all_inner_texts():
        found = re.search(r"Step (\d+)/(\d+)", text)
        if found:
            return int(found.group(1))
    return None


@pytest.mark.timeout(1800)
def test_a_newcomer_goes_from_the_sample_to_a_report(walk: Walk, tmp_path):
    page = walk.page
    later: list[str] = []  # what is worth knowing but is not a failure; printed at the end

    # 1. Home, as a new user opens it.
    seconds = walk.open("/")
    page.get_by_role("button", name="Load the sample dataset").wait_for()
    record_timing(walk.name, "first_page_load", seconds)
    walk.step("home")

    # 2. Load the sample: the Dataset page opens with its seeded mistake.
    page.get_by_role("button", name="Load the sample dataset").click()
    page.get_by_text("Not ready to train: 1 error to fix.").wait_for(timeout=60_000)
    assert page.url.endswith("/dataset")
    editor = page.locator('[data-testid="stDataFrame"]').filter(has=page.locator("th", has_text="Assistant answers"))
    editor.locator("canvas").first.wait_for()
    walk.step("dataset with its seeded mistake")

    # 3. Fix it in the table: row 8, "Tell me about Copper", has an empty answer.
    header, *rows = grid_rows(editor)
    row = next(i for i, cells in enumerate(rows) if "Tell me about Copper" in cells)
    column = header.index("Assistant answers")
    assert row == 7 and rows[row][header.index("Check")] == "1 error", rows[row]
    assert rows[row][column] == ""
    walk.edit_cell(editor, row, column, COPPER)
    page.get_by_text("Valid: OpenAI would accept these 12 training examples.").wait_for(timeout=60_000)
    walk.step("validation turned green")
    assert not walk.alerts("error")
    saved = Workspace().load(Workspace().current())
    assert saved.examples[7]["messages"][2]["content"] == COPPER, "the edit was not autosaved"

    # 4. Estimate: tokens, dollars on the hosted models, and the time on this machine.
    walk.nav("Estimate")
    page.get_by_text("Every model side by side").wait_for()
    shown = metrics(walk)
    assert int(shown["Tokens per epoch"].replace(",", "")) > 500, shown
    assert re.fullmatch(r"\$\d+\.\d{2,4}", shown["Training cost"]), shown
    table = page.locator('[data-testid="stDataFrame"]').filter(has=page.locator("th", has_text="provider"))
    header, *rows = grid_rows(table)
    assert {r[header.index("provider")] for r in rows} >= {"openai", "local"}, rows
    costs = plotly_bars(walk, "Training cost per model")
    hosted = {model: usd for model, usd in costs.items() if model.startswith("gpt-")}
    assert len(hosted) >= 2 and all(usd > 0 for usd in hosted.values()), costs
    assert costs.get("HuggingFaceTB/SmolLM2-135M-Instruct") == 0, costs
    walk.step("estimate")
    measure = page.get_by_role("button", name="Measure it")
    if measure.count():
        started = time.monotonic()
        measure.click()
        page.get_by_text(re.compile(r"On the local engine .*about .* tokens/s")).wait_for(timeout=600_000)
        record_timing(walk.name, "estimate_measure_it", time.monotonic() - started)
    local = next(t for t in walk.alerts("info") if "On the local engine" in t)
    assert re.search(r"about \*?\*?\d", local) or "about" in local, local
    walk.step("estimate with the time on this machine")

    # 5. Train SmolLM2-135M-Instruct (the default) and watch it.
    walk.nav("Train")
    page.get_by_role("button", name="Launch training").wait_for()
    assert "SmolLM2-135M-Instruct" in walk.selected("Base model")
    assert any(t.startswith("Free on this computer") for t in walk.alerts("info")), walk.alerts()
    page.get_by_text("I have checked the price and want to start training").click()
    walk.settle()
    walk.step("train ready to launch")
    started = time.monotonic()
    page.get_by_role("button", name="Launch training").click()
    page.locator('[data-testid="stProgress"]').filter(has_text="Step").wait_for(timeout=TRAIN_DEADLINE_S * 1000)
    walk.step("training started", settle=False)
    steps_seen, points_seen, shot_mid = set(), set(), False
    ready = page.get_by_text("Your fine-tuned model is ready")
    while not ready.count():
        if time.monotonic() - started > TRAIN_DEADLINE_S:
            walk.step("training too slow", settle=False)
            pytest.fail(f"the job did not finish in {TRAIN_DEADLINE_S} s; steps seen {sorted(steps_seen)}")
        step = progress_step(walk)
        if step is not None:
            steps_seen.add(step)
        points_seen.add(loss_points(walk))
        if not shot_mid and len(steps_seen) >= 3:
            walk.step("training moving", settle=False)
            shot_mid = True
        walk.assert_clean("while training")
        page.wait_for_timeout(1000)
    record_timing(walk.name, "training_smollm2", time.monotonic() - started)
    walk.step("training succeeded")
    assert len(steps_seen) >= 2, f"the progress bar did not move: {sorted(steps_seen)}"
    assert len({p for p in points_seen if p}) >= 2, f"the loss chart did not move: {sorted(points_seen)}"
    assert page.locator(".st-key-train_loss_chart").count() == 1
    model = next(t for t in page.locator('[data-testid="stCode"]').all_inner_texts() if t.strip().startswith("ft:"))
    model = model.strip()

    # 5b. Take the model home: the LoRA adapter, built by the engine, downloaded; the zip holds what it says.
    page.get_by_text("Take this model home (download it)").click()
    page.get_by_text("LoRA adapter (the small set of changed weights", exact=False).click()
    page.locator(".st-key-train_export_start button").click()
    exported = page.get_by_text(re.compile(r"^Ready: .*\.zip"))
    exported.wait_for(timeout=REPLY_DEADLINE_S * 1000)
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"Download the zip \(.+ (KB|MB)\)")).click()
    saved = walk.folder / info.value.suggested_filename
    info.value.save_as(str(saved))
    names = zipfile.ZipFile(saved).namelist()
    said = exported.inner_text()
    assert any(n.endswith("/adapter_model.safetensors") for n in names) and all(n in said for n in names), said
    walk.step("model exported")

    # 6. Playground: base and fine-tuned side by side on a held-out element.
    page.get_by_role("button", name="Try it in the Playground").click()
    page.get_by_role("button", name="Ask all").wait_for(timeout=60_000)
    walk.settle()
    pick = page.locator('[data-testid="stHorizontalBlock"]').filter(
        has=page.get_by_text("Column 1", exact=True)).first
    columns = pick.locator(':scope > [data-testid="stColumn"]')
    assert walk.selected("Column 1") == "Base model"
    assert walk.selected("Column 2") == "Fine-tuned model (latest job)"
    assert model in columns.nth(1).inner_text()
    page.get_by_label("Your question").fill("Tell me about Strontium")
    page.get_by_label("Your question").press("Enter")
    walk.settle()
    page.get_by_text("Sampling", exact=True).click()
    assert page.locator(".st-key-playground_temperature [data-testid='stSliderThumbValue']").inner_text() in (
        "0.00", "0.0", "0")
    walk.step("playground ready")
    started = time.monotonic()
    page.get_by_role("button", name="Ask all").click()
    for column in (columns.nth(0), columns.nth(1)):  # each column ends with its figures, or with an error
        column.locator('[data-testid="stMetric"], [data-testid="stAlertContentError"]').first.wait_for(
            timeout=REPLY_DEADLINE_S * 1000)
    walk.settle()
    record_timing(walk.name, "playground_ask_all", time.monotonic() - started)
    walk.step("playground answers")
    for column in (columns.nth(0), columns.nth(1)):
        assert column.get_by_text("Tokens in / out").count() == 1, f"no answer: {column.inner_text()}"
    base_text = columns.nth(0).locator('[data-testid="stText"]').first.inner_text().strip()
    tuned_text = columns.nth(1).locator('[data-testid="stText"]').first.inner_text().strip()
    base_parts = [p for p in base_text.split(" - ") if p.strip()]
    tuned_parts = [p for p in tuned_text.split(" - ") if p.strip()]
    assert base_text and len(base_parts) < 3, f"the base model should answer in prose: {base_text!r}"
    assert len(tuned_parts) >= 4, f"the fine-tuned model should answer in ' - '-joined lines: {tuned_text!r}"
    if len(tuned_parts) != 5:
        later.append(f"the fine-tuned answer has {len(tuned_parts)} lines, not a limerick's 5: {tuned_text!r}")
    # The checks ran under each answer; a wrong claim is flagged. (A model that says nothing checkable
    # gets no flag: then the checks section rendering is what can be asserted.)
    for column in (columns.nth(0), columns.nth(1)):
        assert column.get_by_text(re.compile(r"^Form: (a|not a) limerick")).count() == 1, column.inner_text()
    flags = page.locator('[data-testid="stAlertContentError"]').filter(has_text="Wrong fact").all_inner_texts()
    verified = page.get_by_text(re.compile(r"^✓ .* is right$")).all_inner_texts()
    for flag in flags:
        assert re.search(r"Wrong fact: “.+” says .+; it is .+\.", flag), flag
    print(f"\nfact checks: {len(flags)} wrong {flags}, {len(verified)} right {verified}")

    # 7. Many prompts: a comparison on held-out prompts (two of them: SmolLM2 on a CPU is slow), then the report.
    page.get_by_role("tab", name="Many prompts, votes and report").click()
    batch = page.locator('[data-testid="stTabPanel"]').filter(has=page.get_by_text("Prompts", exact=True))
    batch.get_by_text("Upload a file", exact=True).click()
    walk.settle()
    prompts = tmp_path / "two_held_out_prompts.jsonl"
    prompts.write_text("".join(HELD_OUT.read_text().splitlines(keepends=True)[:2]))
    page.locator(".st-key-batch_upload input[type=file]").set_input_files(str(prompts))
    page.get_by_text("2 prompts × 2 models.").wait_for()
    walk.step("comparison ready")
    started = time.monotonic()
    page.get_by_role("button", name="Run the comparison").click()
    download_button = page.get_by_role("button", name=re.compile("Download the report"))
    download_button.wait_for(timeout=REPLY_DEADLINE_S * 1000)
    walk.settle()
    record_timing(walk.name, "comparison_2_prompts", time.monotonic() - started)
    results = page.locator('[data-testid="stDataFrame"]').filter(has=page.locator("th", has_text="mean form score"))
    header, *rows = grid_rows(results)
    assert sorted(r[header.index("model")] for r in rows) == ["Base", "Fine-tuned"], rows
    walk.step("comparison results")

    with page.expect_download() as info:
        download_button.click()
    download = info.value
    report = walk.folder / download.suggested_filename
    download.save_as(str(report))
    assert report.name.endswith(".html") and report.stat().st_size > 2000

    # 8. Open the report from disk, in the browser, with no network.
    viewer = page.context.new_page()
    requests: list[str] = []
    viewer.on("request", lambda request: requests.append(request.url))
    viewer.goto(report.resolve().as_uri())
    viewer.wait_for_load_state("load")
    assert viewer.title() == "Fine-tuned model vs base model"
    headings = [h.strip() for h in viewer.locator("h2").all_inner_texts()]
    for section in ("The dataset", "The training job", "Side by side", "Scores on 2 prompts"):
        assert section in headings, headings
    assert "Strontium" in viewer.locator("body").inner_text()
    assert [u for u in requests if not u.startswith(("file:", "data:", "about:"))] == [], requests
    viewer.screenshot(path=str(walk.folder / f"{walk.count + 1:02d}-report-opened-from-disk.png"), full_page=True)
    viewer.close()

    if walk.page_errors:
        later.append(f"JavaScript errors on the page: {walk.page_errors[:3]}")
    for note in later:  # the model's output varies with the machine: noted, not failed on
        print(f"note: {note}")
