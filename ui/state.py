"""Every session-state key the pages share, named once, started once.

Widget keys name their page and purpose (`"train_model"`) so tests can find them.
"""

from __future__ import annotations

import streamlit as st

from lib import dataset as ds
from lib.workspace import Workspace

# Shared state (not widgets)
DATASET = "dataset"                # lib.dataset.Dataset: the current dataset
TABLE_VERSION = "table_version"    # bumps when the dataset changes from outside the table editor
PROVIDER = "provider"              # lib.providers.ProviderConfig: the current provider (key kept in memory only)
CONNECTION = "connection"          # last connection test result
ESTIMATE = "estimate"              # last lib.pricing.Estimate shown on the Estimate page
JOB_ID = "job_id"                  # the job the Train page monitors
JOB_STATE = "job_state"            # serialisable monitor state, so monitoring resumes after a refresh
LATEST_MODEL = "latest_model"      # the fine-tuned model of the latest succeeded job
PLAYGROUND_REPLIES = "playground_replies"
PLAYGROUND_HISTORY = "playground_history"
BATCH = "batch_result"
VOTES = "batch_votes"
PRESENTATION = "presentation_mode"
NOTICE = "notice"                  # a one-off message shown after a rerun
DRAFT = "dataset_draft"            # an example sent from the Playground to the Dataset page

# Widget keys that outlive a page switch (they live in app.py's sidebar)
PROVIDER_KIND = "sidebar_provider_kind"
PROVIDER_KEY = "sidebar_api_key"
PROVIDER_URL = "sidebar_base_url"
AZURE_ENDPOINT = "sidebar_azure_endpoint"
AZURE_VERSION = "sidebar_azure_api_version"


SIDEBAR_WIDGETS = (PROVIDER_KIND, PROVIDER_KEY, PROVIDER_URL, AZURE_ENDPOINT, AZURE_VERSION)


def keep_widget_values() -> None:
    """Streamlit forgets a widget's value when a run does not draw it (presentation mode hides the
    sidebar); writing the values back keeps the provider choice alive."""
    for key in SIDEBAR_WIDGETS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def workspace() -> Workspace:
    """The autosave workspace (one per studio home; cheap to build)."""
    return Workspace()


def init() -> None:
    """Start shared state once per browser session, reopening the dataset that was open last."""
    if DATASET not in st.session_state:
        wk = workspace()
        name = wk.current()
        loaded = wk.load(name) if name else None
        st.session_state[DATASET] = loaded or ds.Dataset(name="untitled", examples=[], split=[])
    st.session_state.setdefault(TABLE_VERSION, 0)
    st.session_state.setdefault(PRESENTATION, False)


def dataset() -> ds.Dataset:
    return st.session_state[DATASET]


def set_dataset(new: ds.Dataset, *, note: str = "", from_table: bool = False) -> None:
    """Make `new` the current dataset and autosave it; reset the table editor unless the edit came from it."""
    st.session_state[DATASET] = new
    wk = workspace()
    wk.save(new, note=note)
    wk.set_current(new.name)
    if not from_table:
        st.session_state[TABLE_VERSION] = st.session_state.get(TABLE_VERSION, 0) + 1


def follow_job(config, monitor_state: dict) -> None:
    """Make the Train page follow this job, now and after a refresh or a restart."""
    st.session_state[JOB_ID] = monitor_state["job_id"]
    st.session_state[JOB_STATE] = monitor_state
    workspace().remember_job(config.kind, monitor_state["job_id"])


def notify(message: str, icon: str = ":material/check_circle:") -> None:
    """Queue a toast for the next run (a rerun would otherwise swallow it)."""
    st.session_state[NOTICE] = (message, icon)


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.toast(notice[0], icon=notice[1])
