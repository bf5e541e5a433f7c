"""The studio's pages, defined once: app.py navigates over `define()`, and a page or widget sends the user
to another page by its object (`st.switch_page(pages.get(pages.DATASET))`), never by a file path."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

HOME, DATASET, ESTIMATE, TRAIN, PLAYGROUND = "Home", "Dataset", "Estimate", "Train", "Playground"
# Title -> (file, icon). Material icons, which Streamlit draws with its own font (an emoji needs one on the
# visitor's machine). The files live in views/, not pages/ (a pages/ folder beside app.py makes Streamlit run a
# page without the frame on a deep link).
_FILES = {
    HOME: ("views/home.py", ":material/home:"),
    DATASET: ("views/dataset.py", ":material/table_edit:"),
    ESTIMATE: ("views/estimate.py", ":material/calculate:"),
    TRAIN: ("views/train.py", ":material/model_training:"),
    PLAYGROUND: ("views/playground.py", ":material/compare:"),
}
# How Home marks a step of the journey (lib.journey's statuses).
STATUS_ICONS = {"done": ":material/check_circle:", "active": ":material/hourglass_top:",
                "todo": ":material/radio_button_unchecked:", "problem": ":material/warning:"}

_defined: dict[str, StreamlitPage] = {}


def define() -> list[StreamlitPage]:
    """The pages, in the navigation's order (app.py, on every run: `st.Page` needs the running app)."""
    _defined.update({title: st.Page(path, title=title, icon=icon, default=title == HOME)
                     for title, (path, icon) in _FILES.items()})
    return list(_defined.values())


def get(title: str) -> StreamlitPage:
    """The page called `title` (HOME, DATASET, ...; a journey step's title is its page's)."""
    return _defined[title]
