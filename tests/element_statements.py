"""True and false one-line statements about every element, built from the element table: the fact
checker's test (tests/checks/test_facts.py) and its accuracy figures (benchmarks/quality_figures.py) use
the same set."""

from __future__ import annotations

from lib.checks import elements as E
from lib.checks.pronunciation import number_to_words


def ordinal(n: int) -> str:
    words = number_to_words(n).replace(" and ", " ").split()
    irregular = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}
    last = words[-1]
    words[-1] = irregular.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    if len(words) == 2 and words[0].endswith("ty"):
        return "-".join(words)
    return " ".join(words)


def true_and_false_statements(e: E.Element) -> tuple[list[str], list[str]]:
    n = e.atomic_number
    truths = [f"{e.name} is element {n}.", f"It's the {ordinal(n)} element.", f"Its atomic number is {n}.",
              f"{e.name}, number {number_to_words(n)}, is neat.", f"{e.name} has {n} protons.",
              f"It's in period {e.period}."]
    lies = [f"{e.name} is element {n + 3}.", f"It's the {ordinal(n + 2)} element.", f"It's in period {e.period % 7 + 1}."]
    if e.melting_point:
        c = e.melting_point - 273.15
        truths += [f"{e.name} melts at {c:.0f} °C.", f"It melts at {e.melting_point:.0f} K.",
                   f"It melts at {c * 9 / 5 + 32:.0f} °F.", f"Its melting point is {c:.0f} degrees."]
        lies += [f"It melts at {e.melting_point * 1.3 + 20:.0f} K."]
    if e.boiling_point:
        truths += [f"{e.name} boils at {e.boiling_point - 273.15:.0f} °C."]
        lies += [f"It boils at {e.boiling_point * 1.4 + 30:.0f} K."]
    if e.discovery_year:
        truths += [f"{e.name} was discovered in {e.discovery_year}."]
        lies += [f"{e.name} was discovered in {e.discovery_year - 25}."]
    truths += [f"Its atomic mass is {e.atomic_mass:.1f}.", f"It weighs {e.atomic_mass:.0f} amu."]
    lies += [f"Its atomic mass is {e.atomic_mass * 1.2 + 3:.1f}."]
    if e.group:
        truths += [f"It sits in group {e.group}."]
        lies += [f"It sits in group {e.group % 18 + 1}."]
    if e.state:
        truths += [f"{e.name} is a {e.state} at room temperature."]
        lies += [f"{e.name} is a {'gas' if e.state == 'solid' else 'solid'} at room temperature."]
    return truths, lies
