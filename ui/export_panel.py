"""The "Take this model home" widget: pick a format, watch the engine build it, see its size, download.

Used by the Train page (a finished job and its checkpoints) and the Playground (the model picker).
The engine builds the export where the weights are (`lib.services.export`); hosted services give no weights,
so for them the widget says so and offers to train the same dataset on the local engine.
"""

from __future__ import annotations

import streamlit as st

from lib.services import errors, export, providers
from ui import pages, render, state


def _offer_local_training(config: providers.ProviderConfig, key: str) -> None:
    st.info(export.no_weights_message(config), icon=":material/cloud_off:")
    if st.button("Train the same dataset on the local engine", key=f"{key}_bring_home"):
        st.session_state[state.TRAIN_SECTION_NEXT] = "Bring home"
        st.switch_page(pages.get(pages.TRAIN))


def render_export(config: providers.ProviderConfig, models: list[str], *, key: str) -> None:
    """Export controls for a model (the first of `models`; the others, its checkpoints, can be picked);
    `key` names the place on the page (`train_export`, `playground_export_0`)."""
    models = [m for m in models if m]
    if not models:
        return
    with st.expander("Take this model home (download it)", icon=":material/download:"):
        if not export.can_export(config):
            _offer_local_training(config, key)
            return
        model = models[0]
        if len(models) > 1:
            model = st.selectbox("Which model", models, key=f"{key}_model",
                                 format_func=lambda m: m if m != models[0] else f"{m} (the final model)")
        st.caption(f"Download {render.escape(model)} to run it on your own computer, without the studio.")
        fmt = st.radio("What to download", list(export.FORMATS), format_func=export.FORMATS.get,
                       key=f"{key}_format")
        quant = "f16"
        if fmt in export.WITH_QUANT:
            quant = st.selectbox("Number format of the weights", list(export.QUANTS), format_func=export.QUANTS.get,
                                 key=f"{key}_quant")
        wanted = (model, fmt, quant if fmt in export.WITH_QUANT else None)
        exports: dict = st.session_state.setdefault(state.EXPORTS, {})
        if st.button("Prepare the download", key=f"{key}_start", type="primary"):
            try:
                exports[wanted] = export.start(config, model, fmt, quant)
            except errors.StudioError as exc:
                st.error(render.escape(exc.message))
                return
        if wanted in exports:
            _progress(config, wanted, key)


def _progress(config: providers.ProviderConfig, wanted: tuple, key: str) -> None:
    exports: dict = st.session_state[state.EXPORTS]
    active = not exports[wanted].done

    @st.fragment(run_every=1.0 if active else None)
    def follow() -> None:
        current: export.Export = exports[wanted]
        if not current.done:
            try:
                current = exports[wanted] = export.retrieve(config, current.id)
            except errors.StudioError as exc:
                st.error(render.escape(exc.message))
                return
        if current.done and active:
            # Built: a full run draws the result outside this timer. A download button drawn here would be
            # replaced by that run before the click lands, and its file would be gone when the browser asks.
            st.rerun()
        if current.status == "failed":
            st.error(render.escape((current.error or {}).get("message") or "The export failed."))
        elif current.status == "succeeded":
            st.success(f"Ready: {current.filename} ({current.size}), holding {', '.join(current.files)}.")
            st.download_button(f"Download the zip ({current.size})", data=lambda: export.content(config, current),
                               file_name=current.filename, mime="application/zip", key=f"{key}_download",
                               icon=":material/download:")
        else:
            st.progress(current.progress, text=f"{current.stage or 'Waiting to start'}… {current.progress:.0%}")

    follow()
