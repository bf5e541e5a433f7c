"""Every session-state key the pages share, named once, started once.

Widget keys name their page and purpose (`"train_model"`) so tests can find them.
"""

from __future__ import annotations

import streamlit as st

from lib.dataprep import dataset as ds
from lib.dataprep.workspace import Workspace

# Shared state (not widgets)
DATASET = "dataset"                # lib.dataprep.dataset.Dataset: the current dataset
CHECKER = "dataset_checker"        # lib.dataprep.check.DatasetChecker: remembers rows and the copy index
CHECK = "dataset_check"            # the latest lib.dataprep.check.DatasetCheck (keyed by its .digest)
VERSIONS = "dataset_versions_read"  # {(name, version id): Dataset}: saved versions already read (they never change)
TABLE_VERSION = "table_version"    # bumps when the dataset changes from outside the table editor
PROVIDER = "provider"              # lib.services.providers.ProviderConfig: the current provider (key kept in memory only)
CONNECTION = "connection"          # last connection test result
ESTIMATE = "estimate"              # last lib.services.pricing.Estimate shown on the Estimate page
JOB_STATE = "job_state"            # serialisable monitor state, so monitoring resumes after a refresh
LATEST_MODEL = "latest_model"      # the fine-tuned model of the latest succeeded job
LATEST_MODEL_FROM = "latest_model_from"  # jobs whose model the monitor made LATEST_MODEL once (a choice made
                                         # later, "Use this checkpoint" or a sweep's winner, then sticks)
SWEEP_CURVES = "sweep_curves"      # {job id: {"rows": metrics rows, "final": bool}}: a sweep's overlaid curves
PLAYGROUND_REPLIES = "playground_replies"
PLAYGROUND_HISTORY = "playground_history"
BATCH = "batch_result"
VOTES = "batch_votes"
PRESENTATION = "presentation_mode"
NOTICE = "notice"                  # a one-off message shown after a rerun
BRING_HOME = "bring_home"          # the Train page's bring-home panel: hosted jobs listed, the local job launched
PLAYGROUND_PAIR = "playground_pair"  # [(label, model, ProviderConfig)]: columns that name their own provider
GENERATED = "generate_last_run"    # the last Generate run: its estimate and what it really took
EXPORTS = "exports"                # {(model, format, quant): lib.services.export.Export}: downloads being built

# Widget keys one module draws and another reads
TRAIN_SECTION = "train_section"            # the Train page's Launch / Monitor / History / Bring home control
TRAIN_SECTION_NEXT = "train_section_next"  # set before a rerun: a widget's value cannot change once drawn
PLAYGROUND_CONTENDERS = "playground_contenders"  # [playground.Contender | None]: the side-by-side columns
PLAYGROUND_SYSTEM = "playground_system"          # the side-by-side settings, which the batch reuses
PLAYGROUND_FACTS_CARD = "playground_facts_card"  # questions go with their element's facts card (lib.checks.facts_card)
PLAYGROUND_TEMPERATURE = "playground_temperature"
PLAYGROUND_MAX_TOKENS = "playground_max_tokens"
PLAYGROUND_SEED = "playground_seed"

# Widget keys that outlive a page switch (they live in app.py's sidebar)
PROVIDER_KIND = "sidebar_provider_kind"
PROVIDER_KEY = "sidebar_api_key"         # prefix: each provider kind has its own key widget (`provider_key`)
PROVIDER_URL = "sidebar_base_url"
AZURE_ENDPOINT = "sidebar_azure_endpoint"
AZURE_VERSION = "sidebar_azure_api_version"


LOCAL_TRUSTED_URL = "local_trusted_url"  # an engine the user chose to trust for this session (not proven ours)


SIDEBAR_WIDGETS = (PROVIDER_KIND, PROVIDER_URL, AZURE_ENDPOINT, AZURE_VERSION)


def provider_key(kind: str) -> str:
    """The widget holding the API key typed for provider `kind`: a key belongs to the provider it was
    typed for, and is sent nowhere else (switching provider never carries it over)."""
    return f"{PROVIDER_KEY}_{kind}"


def keep_widget_values() -> None:
    """Streamlit forgets a widget's value when a run does not draw it (presentation mode hides the
    sidebar, another provider hides this one's key); writing the values back keeps them alive."""
    for key in list(st.session_state):
        if key in SIDEBAR_WIDGETS or str(key).startswith(f"{PROVIDER_KEY}_"):
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
    st.session_state[JOB_STATE] = monitor_state
    workspace().remember_job(config.kind, monitor_state["job_id"])


def notify(message: str, icon: str = ":material/check_circle:") -> None:
    """Queue a toast for the next run (a rerun would otherwise swallow it)."""
    st.session_state[NOTICE] = (message, icon)


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.toast(notice[0], icon=notice[1])
