"""Small actions several pages share (load the sample, send an example to the dataset)."""

from __future__ import annotations

from pathlib import Path

from lib.dataprep import readers
from ui import state

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "elements_limericks.jsonl"


def load_sample() -> None:
    """Open the sample dataset (twelve limericks about elements, one seeded mistake to fix)."""
    data = readers.load_file(SAMPLE)
    data.name = "Elements limericks (sample)"
    state.set_dataset(data, note="Loaded the sample dataset")
    state.notify("Loaded the sample dataset. One answer is empty on purpose: find it and write it.", ":material/menu_book:")
