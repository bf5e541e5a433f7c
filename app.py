"""Fine-Tune Studio: the frame. One navigation, one sidebar, shared state; pages live in views/ (not pages/, which Streamlit would also read as old-style pages)."""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from lib.services import errors
from ui import pages, render, sidebar, state

st.set_page_config(page_title="Fine-Tune Studio", page_icon="🧪", layout="wide")
state.init()
state.keep_widget_values()

page = st.navigation(pages.define())

if st.session_state.get(state.PRESENTATION):
    # Presentation mode: no sidebar, no keys on screen, large type for a screen share.
    st.markdown(
        "<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl']{display:none}"
        " html{font-size:20px}</style>",
        unsafe_allow_html=True,
    )
else:
    sidebar.render()
state.show_notice()
try:
    page.run()
except errors.StudioError as exc:  # a provider said no: its plain message, never a traceback
    st.error(render.escape(exc.message))
except Exception as exc:  # a bug of ours: say so plainly, keep the details in the server log
    if isinstance(exc, ScriptControlException):  # st.rerun / st.stop / st.switch_page
        raise
    logging.getLogger("fine_tune_studio").exception("page %s failed", page.title)
    st.error(render.UNEXPECTED)
