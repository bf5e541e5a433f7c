"""lib.checks.elements: the 118 elements from mendeleev's database, lookups, the periodic-table figure."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lib.checks import elements as E

DATA = Path(__file__).parents[1] / "data"


def test_all_118_elements_in_order_with_unique_symbols():
    all_ = E.all_elements()
    assert len(all_) == 118
    assert [e.atomic_number for e in all_] == list(range(1, 119))
    assert len({e.symbol for e in all_}) == 118
    assert all(e.name and e.period and e.block in "spdf" for e in all_)


def test_strontium_record():
    sr = E.find("Strontium")
    assert (sr.atomic_number, sr.symbol, sr.group, sr.period, sr.block) == (38, "Sr", 2, 5, "s")
    assert sr.atomic_mass == pytest.approx(87.62)
    assert sr.melting_point == pytest.approx(1050.15)
    assert sr.boiling_point == pytest.approx(1650.15)
    assert sr.discovery_year == 1790
    assert sr.state == "solid"
    assert sr.to_dict()["symbol"] == "Sr"


def test_gallium_melting_point_and_states():
    assert E.find("Ga").melting_point == pytest.approx(302.91, abs=0.01)
    gases = {e.symbol for e in E.all_elements() if e.state == "gas"}
    liquids = {e.symbol for e in E.all_elements() if e.state == "liquid"}
    assert gases == {"H", "He", "N", "O", "F", "Ne", "Cl", "Ar", "Kr", "Xe", "Rn"}
    assert liquids == {"Br", "Hg"}
    # No data, no guess: the superheavy elements have no state.
    assert E.find("Og").state is None and E.find("Fr").state is None


def test_allotropes_and_sublimation():
    assert E.find("S").melting_point == pytest.approx(388.36)  # not the rhombic->monoclinic transition
    assert E.find("C").melting_point is None and E.find("C").boiling_point > 3900  # sublimes
    assert E.find("P").melting_point == pytest.approx(317.3)  # white phosphorus


@pytest.mark.parametrize("query,symbol", [
    ("aluminium", "Al"), ("Aluminum", "Al"), ("sulphur", "S"), ("SULFUR", "S"), ("caesium", "Cs"),
    ("cesium", "Cs"), ("sr", "Sr"), ("Sr", "Sr"), ("38", "Sr"), (38, "Sr"), ("tin", "Sn"), ("wolfram", "W"),
    (" Gold ", "Au"), ("Oganesson", "Og"),
])
def test_find_names_variants_symbols_numbers(query, symbol):
    assert E.find(query).symbol == symbol


@pytest.mark.parametrize("query", ["", "xyz", "unobtainium", None, 0, 119, "Strontium-90"])
def test_find_unknown(query):
    assert E.find(query) is None


def test_periodic_layout():
    layout = E.periodic_layout()
    assert len(layout) == 118 and len(set(layout.values())) == 118
    assert layout["H"] == (1, 1) and layout["He"] == (1, 18) and layout["Og"] == (7, 18)
    assert layout["Hf"] == (6, 4) and layout["Rf"] == (7, 4)
    assert layout["La"] == (9, 3) and layout["Lu"] == (9, 17)
    assert layout["Ac"] == (10, 3) and layout["Lr"] == (10, 17)
    assert all(1 <= r <= 10 and 1 <= c <= 18 for r, c in layout.values())


def test_coverage_figure_colours_zero_apart_and_shows_symbols():
    fig = E.coverage_figure({"Sr": 3, "gallium": 2, "Xx": 5, "He": 0})
    zero, counted = fig.data[0], fig.data[1]
    # Covered cells carry their count; uncovered ones sit in a separate grey layer.
    row, col = E.periodic_layout()["Sr"]
    assert counted.z[row - 1][col - 1] == 3 and zero.z[row - 1][col - 1] is None
    row, col = E.periodic_layout()["He"]
    assert zero.z[row - 1][col - 1] == 0 and counted.z[row - 1][col - 1] is None
    assert zero.colorscale[0][1] == "#eeeeee"  # grey, never a shade of the count scale
    assert all(colour != "#eeeeee" for _, colour in counted.colorscale)
    symbols = {t for grid in (zero.text, counted.text) for line in grid for t in line if t}
    assert {"Sr", "Ga", "He", "Og"} <= symbols
    hovers = [h for line in counted.hovertext for h in line if h]
    assert any("Strontium" in h and "3 examples" in h for h in hovers)
    assert "2 of 118" in fig.layout.title.text


def test_coverage_figure_empty_counts():
    fig = E.coverage_figure({})
    assert "0 of 118" in fig.layout.title.text


def test_agrees_with_pubchem_table():
    """A cross-check with another source: names, symbols, masses and standard states."""
    with open(DATA / "PubChemElements_all.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 118
    for row in rows:
        e = E.by_number(int(row["AtomicNumber"]))
        assert e.symbol == row["Symbol"]
        assert E.find(row["Name"]) is e
        # Synthetic elements: the mass number of "the most stable isotope" differs between sources.
        assert e.atomic_mass == pytest.approx(float(row["AtomicMass"]), abs=1.5 if e.atomic_number < 100 else 5)
        if e.state and not row["StandardState"].startswith("Expected"):
            assert e.state == row["StandardState"].lower(), e.name
