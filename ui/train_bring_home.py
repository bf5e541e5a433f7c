"""The Train page's "Bring a fine-tune home" panel: hosted fine-tunes by shutdown date, one retrained locally."""

from __future__ import annotations

import streamlit as st

from lib.dataprep import dataset
from lib.services import bring_home, errors, jobs, lifecycle, pricing, providers
from ui import clients, pages, state

HOSTED_KINDS = ("openai", "azure", "url")
LOCAL_MODELS = (pricing.LOCAL_DEFAULT_MODEL, "tiny-random-llama")


def _local_config() -> providers.ProviderConfig:
    return providers.config_from_env("local")


def _launch(config: providers.ProviderConfig, hosted: bring_home.HostedFineTune, model: str,
            training: bytes | None = None) -> None:
    try:
        with st.spinner("Downloading the files and launching on the local engine…"):
            result = bring_home.bring_home(clients.client(config), hosted,
                                           clients.client(_local_config()), local_model=model,
                                           training=training, workspace=state.workspace())
    except bring_home.FileUnavailable as exc:
        st.session_state[state.BRING_HOME]["missing"] = exc.message
        return
    except errors.StudioError as exc:
        st.error(exc.message)
        return
    except dataset.ParseError as exc:
        st.error(f"That file is not a dataset: {exc}")
        return
    state.workspace().set_current(result.dataset_name)
    st.session_state[state.DATASET] = state.workspace().load(result.dataset_name)
    st.session_state[state.TABLE_VERSION] = st.session_state.get(state.TABLE_VERSION, 0) + 1
    st.session_state[state.BRING_HOME].update(
        missing=None, job_id=result.local_job_id, hosted=hosted.to_dict(), recipe=result.recipe.explain(),
        dataset=result.dataset_name, version=result.version)
    st.rerun()  # so the sidebar names the dataset just imported


@st.fragment(run_every=2)
def _follow(config: providers.ProviderConfig) -> None:
    panel = st.session_state[state.BRING_HOME]
    try:
        job = jobs.retrieve(clients.client(_local_config()), panel["job_id"])
    except errors.StudioError as exc:
        st.error(exc.message)
        return
    st.markdown(f"Local job `{job.id}`: **{job.status.replace('_', ' ')}**")
    if job.status == "succeeded" and job.fine_tuned_model:
        hosted = panel["hosted"]
        st.success(f"Your model is home: `{job.fine_tuned_model}`.")
        if st.button("Compare both side by side in the Playground", type="primary", key="train_home_compare"):
            pair = [("Local (home)", job.fine_tuned_model, _local_config())]
            if hosted.get("fine_tuned_model") and not lifecycle.is_retired(hosted["fine_tuned_model"]):
                pair.insert(0, ("Hosted", hosted["fine_tuned_model"], config))
            st.session_state[state.PLAYGROUND_PAIR] = pair
            st.session_state[state.LATEST_MODEL] = job.fine_tuned_model
            st.switch_page(pages.get(pages.PLAYGROUND))
    elif job.status in jobs.TERMINAL:
        st.error(errors.JobFailed.from_job(job).message if job.status == "failed" else "The local job was cancelled.")


def render(config: providers.ProviderConfig) -> None:
    st.subheader("Bring a fine-tune home")
    st.caption("OpenAI's fine-tunes of gpt-4o and gpt-4.1 stop answering on "
               f"{lifecycle.GPT4O_GPT41_SHUTDOWN.isoformat()}. Download a job's data and retrain it on this computer.")
    if config.kind == "azure":
        st.warning(lifecycle.AZURE_CAVEAT, icon=":material/info:")
    if config.kind not in HOSTED_KINDS:
        st.info("Choose OpenAI, Azure OpenAI or an OpenAI-compatible server in the sidebar, with its key, "
                "to list the fine-tunes it holds.")
        return
    panel = st.session_state.setdefault(state.BRING_HOME, {})
    if st.button("List my fine-tunes", key="train_home_list"):
        try:
            with st.spinner("Reading the account's fine-tuning jobs…"):
                panel["hosted"] = None
                panel["listed"] = [h.to_dict() for h in bring_home.list_hosted(clients.client(config))]
        except errors.StudioError as exc:
            st.error(exc.message)
    listed = panel.get("listed")
    if listed is None:
        return
    if not listed:
        st.info("This key's account has no fine-tuning jobs.")
        return
    for row in listed:
        text = f"**{row['fine_tuned_model'] or row['job_id']}** · {row['status']}"
        notice = row.get("notice")
        if notice and row["days_left"] is not None and row["days_left"] < 60:
            st.error(f"{text} — {notice}", icon=":material/event_busy:")
        elif notice:
            st.warning(f"{text} — {notice}")
        else:
            st.markdown(f"{text} — no shutdown announced")
    ids = [row["job_id"] for row in listed]
    by_id = {row["job_id"]: row for row in listed}
    choice = st.selectbox("Fine-tune to bring home", ids, key="train_home_job",
                          format_func=lambda i: by_id[i]["fine_tuned_model"] or i)
    model = st.selectbox("Local model to train", LOCAL_MODELS, key="train_home_model",
                         help="SmolLM2-135M is a small open model that runs on this computer; the tiny random "
                         "model only checks the mechanics.")
    hosted = bring_home.HostedFineTune(**by_id[choice])
    if st.button("Bring it home", type="primary", key="train_home_go"):
        _launch(config, hosted, model)
    if panel.get("missing"):
        st.error(panel["missing"])
        upload = st.file_uploader("Import the dataset from disk instead", type=["jsonl"], key="train_home_file")
        if upload is not None and st.button("Use this file", key="train_home_use_file"):
            _launch(config, hosted, model, training=upload.getvalue())
    if panel.get("job_id"):
        st.markdown(f"Dataset **{panel['dataset']}** (version {panel['version']}) · recipe on the local engine:")
        st.markdown(panel["recipe"])
        _follow(config)
