"""Element data for all 118 elements, read once from the SQLite database that `mendeleev` ships.

Why not `import mendeleev`: importing it pulls in pandas and SQLAlchemy (about a second); the
database file alone answers everything the studio needs in a few milliseconds. We only locate the
package (without executing it) and open its `elements.db` read-only.

Temperatures are in kelvin. `state` is the state at 298 K, derived from the melting and boiling
points when both sides are known, else None (e.g. the superheavy elements, francium).
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOM_TEMPERATURE_K = 298.15

# Spellings the database does not use but people (and chatbots) do.
NAME_VARIANTS: dict[str, tuple[str, ...]] = {
    "Al": ("aluminium",),
    "S": ("sulphur",),
    "Cs": ("caesium",),
    "W": ("wolfram",),
}

# Discovery years that other reputable sources give (PubChem's table, first observation versus
# first isolation, ...). A year claim matching any of them must never be called wrong.
ALTERNATIVE_DISCOVERY_YEARS: dict[str, tuple[int, ...]] = {
    "H": (1671,), "He": (1868,), "Be": (1828,), "O": (1771, 1772), "F": (1670, 1810),
    "Mg": (1755,), "Al": (1827,), "Si": (1823, 1854), "Ti": (1795, 1910),
    "V": (1801, 1867), "Cr": (1798,), "Mn": (1774,), "Co": (1735,), "Zn": (1746,), "Se": (1817,),
    "Sr": (1787, 1808), "Y": (1794,), "Zr": (1824,), "Nb": (1844,), "Mo": (1781,), "Ru": (1827,),
    "Pd": (1802,), "Ba": (1774,), "Ce": (1839,), "Nd": (1885,), "Eu": (1896,), "Ho": (1879,),
    "Er": (1842,), "W": (1781,), "Os": (1803,), "Ir": (1803,), "Bi": (1753,), "Rn": (1899, 1900),
    "Ac": (1902,), "Th": (1829,), "Pa": (1913,), "U": (1841,), "Am": (1944,), "Fm": (1952,),
    "No": (1958, 1966), "Rf": (1964,), "Db": (1967, 1968), "Bh": (1981,), "Nh": (2003, 2004),
    "Fl": (1999,), "Mc": (2004,), "Og": (2006,),
}

# Main-group and transition-metal groups in the old CAS / IUPAC notations.
OLD_GROUP_NAMES: dict[int, tuple[str, ...]] = {
    1: ("IA", "1A"), 2: ("IIA", "2A"), 3: ("IIIB", "3B", "IIIA"), 4: ("IVB", "4B", "IVA"),
    5: ("VB", "5B", "VA"), 6: ("VIB", "6B", "VIA"), 7: ("VIIB", "7B", "VIIA"),
    8: ("VIIIB", "8B", "VIII"), 9: ("VIIIB", "8B", "VIII"), 10: ("VIIIB", "8B", "VIII"),
    11: ("IB", "1B"), 12: ("IIB", "2B"), 13: ("IIIA", "3A", "IIIB"), 14: ("IVA", "4A", "IVB"),
    15: ("VA", "5A", "VB"), 16: ("VIA", "6A", "VIB"), 17: ("VIIA", "7A", "VIIB"),
    18: ("VIIIA", "8A", "0"),
}


@dataclass(frozen=True)
class Element:
    atomic_number: int
    symbol: str
    name: str
    atomic_mass: float | None
    melting_point: float | None  # K; None where unknown (or, for carbon and arsenic, where it sublimes)
    boiling_point: float | None  # K (the sublimation point for carbon and arsenic)
    discovery_year: int | None  # None: known since antiquity
    group: int | None  # 1-18; None for the lanthanides and actinides (f block)
    period: int
    block: str
    series: str
    state: str | None  # "solid" | "liquid" | "gas" at 298 K; None where the data cannot tell
    names: tuple[str, ...] = ()  # lower-case names: the database's first, then other spellings
    melting_points: tuple[float, ...] = field(default=(), repr=False)  # every allotrope's
    boiling_points: tuple[float, ...] = field(default=(), repr=False)
    discoverers: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "atomic_number": self.atomic_number, "symbol": self.symbol, "name": self.name,
            "atomic_mass": self.atomic_mass, "melting_point": self.melting_point,
            "boiling_point": self.boiling_point, "discovery_year": self.discovery_year,
            "group": self.group, "period": self.period, "block": self.block, "series": self.series,
            "state": self.state,
        }


def database_path() -> Path:
    """mendeleev's `elements.db`, found without importing (and so without loading) the package."""
    spec = importlib.util.find_spec("mendeleev")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The 'mendeleev' package is not installed (pip install mendeleev).")
    for location in spec.submodule_search_locations:
        path = Path(location) / "elements.db"
        if path.exists():
            return path
    raise RuntimeError("mendeleev's elements.db was not found in the installed package.")


def _r(value: float | None) -> float | None:
    """The database stores 302.9146 as 302.91459999999995: keep two decimals."""
    return None if value is None else round(float(value), 2)


def _derive_state(melting: float | None, boiling: float | None, sublimes: bool) -> str | None:
    t = ROOM_TEMPERATURE_K
    if sublimes:
        return "solid" if boiling is not None and boiling > t else None
    if melting is not None and melting > t:
        return "solid"
    if boiling is not None and boiling < t:
        return "gas"
    if melting is not None and boiling is not None and melting < t < boiling:
        return "liquid"
    return None


@lru_cache(maxsize=1)
def _load() -> tuple[Element, ...]:
    uri = database_path().resolve().as_uri() + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        series = dict(db.execute("SELECT id, name FROM series"))
        phases: dict[int, list[tuple]] = {}
        for row in db.execute(
            "SELECT atomic_number, melting_point, boiling_point, is_transition, is_sublimation_point, allotrope "
            "FROM phasetransitions ORDER BY id"
        ):
            phases.setdefault(row[0], []).append(row[1:])
        rows = db.execute(
            "SELECT atomic_number, symbol, name, atomic_weight, discovery_year, group_id, period, block, "
            "series_id, discoverers FROM elements ORDER BY atomic_number"
        ).fetchall()
    elements = []
    for number, symbol, name, mass, year, group, period, block, series_id, discoverers in rows:
        transitions = [(_r(m), _r(b), *rest) for m, b, *rest in phases.get(number, [])]
        # A solid-solid transition row (sulfur's rhombic->monoclinic) is not a melting point.
        real = [p for p in transitions if not p[2]] or transitions
        non_sublimation = [p for p in real if not p[3]]
        sublimes = bool(real) and not non_sublimation
        main = (non_sublimation or real or [(None, None, None, None, None)])[0]
        melts = tuple(sorted({p[0] for p in real if p[0] is not None and not p[3]}))
        boils = tuple(sorted({p[1] for p in real if p[1] is not None}))
        melting = None if sublimes else main[0]
        boiling = main[1] if main[1] is not None else (boils[0] if boils else None)
        names = (name.lower(), *NAME_VARIANTS.get(symbol, ()))
        elements.append(Element(
            atomic_number=number, symbol=symbol, name=name, atomic_mass=mass,
            melting_point=melting, boiling_point=boiling, discovery_year=year,
            group=group, period=period, block=block, series=series.get(series_id, ""),
            state=_derive_state(melting, boiling, sublimes), names=names,
            melting_points=melts if not sublimes else (), boiling_points=boils,
            discoverers=discoverers,
        ))
    return tuple(elements)


def all_elements() -> tuple[Element, ...]:
    """The 118 elements in order of atomic number."""
    return _load()


@lru_cache(maxsize=1)
def _indexes() -> tuple[dict[str, Element], dict[str, Element], dict[int, Element]]:
    by_name = {name: e for e in _load() for name in e.names}
    by_symbol = {e.symbol: e for e in _load()}
    by_number = {e.atomic_number: e for e in _load()}
    return by_name, by_symbol, by_number


def by_symbol(symbol: str) -> Element | None:
    return _indexes()[1].get(symbol.strip().capitalize())


def by_number(number: int) -> Element | None:
    return _indexes()[2].get(number)


def name_index() -> dict[str, Element]:
    """Every lower-case spelling (aluminium and aluminum, ...) to its element."""
    return dict(_indexes()[0])


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).strip().lower()


def find(name_or_symbol: str | int) -> Element | None:
    """An element from its name (any listed spelling, any case), symbol (any case) or number.

    Names are tried before symbols, so "tin" is tin and never "Ti"+"n".
    """
    if isinstance(name_or_symbol, int):
        return by_number(name_or_symbol)
    if not isinstance(name_or_symbol, str):
        return None
    text = _fold(name_or_symbol)
    if not text:
        return None
    if text.isdigit():
        return by_number(int(text))
    by_name, symbols, _ = _indexes()
    if text in by_name:
        return by_name[text]
    return symbols.get(text.capitalize()) if re.fullmatch(r"[a-z]{1,2}", text) else None


# ---------------------------------------------------------------- periodic table layout and figure

F_ROW_GAP = 1  # blank rows between the main table and the lanthanide/actinide rows


def periodic_layout() -> dict[str, tuple[int, int]]:
    """Symbol -> (row, column), 1-based, for drawing the table.

    Rows 1-7 are the periods; the lanthanides (La-Lu) and actinides (Ac-Lr) sit in rows 9 and 10
    under columns 3-17, leaving group 3 of periods 6 and 7 as the place-holders they stand for.
    """
    layout: dict[str, tuple[int, int]] = {}
    for e in _load():
        if 57 <= e.atomic_number <= 71:
            layout[e.symbol] = (7 + F_ROW_GAP + 1, 3 + e.atomic_number - 57)
        elif 89 <= e.atomic_number <= 103:
            layout[e.symbol] = (7 + F_ROW_GAP + 2, 3 + e.atomic_number - 89)
        else:
            layout[e.symbol] = (e.period, e.group or 3)
    return layout


def _count_for(counts: dict, element: Element) -> int:
    return int(counts.get(element.symbol, 0) or 0)


def coverage_figure(counts: dict[str, int] | None = None, *, title: str = "Elements covered by the dataset"):
    """A plotly periodic table coloured by how many examples mention each element.

    Elements with no example are light grey (no colour at all), so gaps stand out; the others go
    from a clear blue to dark blue. Keys may be symbols, names or atomic numbers.
    """
    import plotly.graph_objects as go

    normalised: dict[str, int] = {}
    for key, value in (counts or {}).items():
        element = find(key) if isinstance(key, str | int) else None
        if element is None:
            continue
        try:
            normalised[element.symbol] = normalised.get(element.symbol, 0) + int(value)
        except (TypeError, ValueError):
            continue
    layout = periodic_layout()
    n_rows, n_cols = 7 + F_ROW_GAP + 2, 18
    zero_z: list[list[int | None]] = [[None] * n_cols for _ in range(n_rows)]
    count_z: list[list[int | None]] = [[None] * n_cols for _ in range(n_rows)]
    zero_text = [[""] * n_cols for _ in range(n_rows)]
    count_text = [[""] * n_cols for _ in range(n_rows)]
    hover = [[""] * n_cols for _ in range(n_rows)]
    for e in _load():
        row, col = layout[e.symbol]
        n = _count_for(normalised, e)
        plural = "example" if n == 1 else "examples"
        hover[row - 1][col - 1] = f"{e.name} ({e.symbol}), no. {e.atomic_number}<br>{n} {plural}"
        if n > 0:
            count_z[row - 1][col - 1] = n
            count_text[row - 1][col - 1] = e.symbol
        else:
            zero_z[row - 1][col - 1] = 0
            zero_text[row - 1][col - 1] = e.symbol
    # Place-holders for the f block, in the zero layer so they stay grey.
    for row, label, where in ((6, "57-71", "Lanthanides"), (7, "89-103", "Actinides")):
        zero_z[row - 1][2] = 0
        zero_text[row - 1][2] = label
        hover[row - 1][2] = f"{where}: see the row below"
    x = list(range(1, n_cols + 1))
    y = list(range(1, n_rows + 1))
    max_count = max(normalised.values(), default=0)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=zero_z, x=x, y=y, text=zero_text, hovertext=hover, hoverinfo="text", texttemplate="%{text}",
        colorscale=[[0, "#eeeeee"], [1, "#eeeeee"]], showscale=False, xgap=2, ygap=2,
        textfont={"color": "#999999"}, name="no examples",
    ))
    fig.add_trace(go.Heatmap(
        z=count_z, x=x, y=y, text=count_text, hovertext=hover, hoverinfo="text", texttemplate="%{text}",
        # Starts at a clear blue, so one example never looks like none.
        colorscale=[[0, "#9ecae1"], [0.5, "#3182bd"], [1, "#08306b"]],
        zmin=0.5 if max_count <= 1 else 1, zmax=max(max_count, 1), xgap=2, ygap=2,
        colorbar={"title": {"text": "examples"}}, name="examples",
    ))
    covered = sum(1 for e in _load() if _count_for(normalised, e) > 0)
    fig.update_layout(
        title={"text": f"{title} ({covered} of 118)"},
        xaxis={"visible": False, "range": [0.5, n_cols + 0.5]},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x", "scaleratio": 1},
        plot_bgcolor="white", margin={"l": 10, "r": 10, "t": 50, "b": 10}, height=480,
    )
    return fig
