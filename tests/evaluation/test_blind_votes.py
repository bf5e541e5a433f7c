"""Blind votes and the batch summary: sides shuffled reproducibly, names hidden until the reveal, costs honest."""

from __future__ import annotations

from lib.evaluation import blind_votes
from lib.evaluation.blind_votes import Vote
from lib.evaluation.comparison import BatchResult, Reply


def test_summary_leaves_cost_unknown_when_any_price_is_unknown():
    replies = [[Reply("A", "a", text="x", cost_usd=0.001)], [Reply("A", "a", text="y", cost_usd=None)]]
    batch = BatchResult([{"label": "A", "model": "a"}], ["p1", "p2"], replies)
    (row,) = blind_votes.summary(batch)["contenders"]
    assert row["cost_per_1000"] is None and row["limerick_rate"] is None and row["contradicted"] is None


def test_blind_order_shuffles_sides_reproducibly():
    order = blind_votes.blind_order(20, seed=3)
    assert order == blind_votes.blind_order(20, seed=3)
    assert set(order) == {(0, 1), (1, 0)}


def test_tally_hides_names_until_the_reveal():
    order = [(1, 0), (0, 1), (0, 1), (1, 0)]
    votes = ["left", "left", "tie", None]  # contender 1, then 0, then a tie; the last pair not voted yet
    live = blind_votes.tally(votes, order, labels=["Base", "Fine-tuned"])
    assert live["revealed"] is False and (live["voted"], live["remaining"], live["ties"]) == (3, 1, 1)
    assert {s["name"] for s in live["standings"]} == {"Model A", "Model B"}
    assert all("index" not in s for s in live["standings"])
    final = blind_votes.tally(votes, order, labels=["Base", "Fine-tuned"], reveal=True)
    assert {s["name"]: s["wins"] for s in final["standings"]} == {"Fine-tuned": 1, "Base": 1}
    assert final["votes"] == [Vote(0, 1, 0, "left"), Vote(1, 0, 1, "left"), Vote(2, 0, 1, "tie")]
