"""Estimate: what training costs on each model, how long it takes here, and fine-tuning vs prompting."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from lib.evaluation import charts
from lib.services import pricing
from ui import estimate_panels, pages, state

st.title("Estimate")
st.caption("Exact token counts and OpenAI's billing rules, before you pay anything.")
data = state.dataset()
train = data.train_examples()
if not train:
    st.info("No training examples yet: build your dataset first.")
    st.page_link(pages.get(pages.DATASET), label="Go to the Dataset page", icon="➡️")
    st.stop()

models = estimate_panels.model_choices()
left, right = st.columns([2, 1])
model = left.selectbox("Model to train", models, index=models.index(estimate_panels.DEFAULT_MODEL),
                       key="estimate_model", format_func=estimate_panels.label)
auto = right.toggle("Epochs: automatic (OpenAI's rule)", value=True, key="estimate_auto_epochs")
epochs = "auto" if auto else right.number_input("Epochs", 1, 50, 3, key="estimate_epochs")

estimate = estimate_panels.cost_estimate(train, model, epochs)
st.session_state[state.ESTIMATE] = estimate.to_dict() | {"model": model}
estimate_panels.headline(estimate, len(data.validation_examples()))
estimate_panels.local_time(estimate, automatic=auto)

ok, reason = pricing.trainable(model, date.today())
if not ok:
    st.warning(reason)
    for alt in pricing.alternatives(model, date.today()):
        st.markdown(f"- **{alt.provider.capitalize()}** · {alt.model}: {alt.reason}")

if estimate.over_limit:
    st.warning(
        f"{len(estimate.over_limit)} example(s) are longer than {model}'s limit of "
        f"{estimate.token_limit:,} tokens and will be cut from the end: rows "
        + ", ".join(map(str, estimate.over_limit[:20]))
    )

st.subheader("Every model side by side")
table = pd.DataFrame(pricing.compare_table(train, epochs, date.today()))
st.dataframe(table, hide_index=True, width="stretch")
st.caption(f"Prices: {pricing.PRICE_DATE}. Validation tokens are free.")

plots = st.columns(2)
plots[0].plotly_chart(charts.token_histograms(estimate.tokens, estimate.assistant_tokens, estimate.token_limit),
                      width="stretch")
plots[1].plotly_chart(charts.cost_by_model(list(table["model"]), list(table["cost_usd"])), width="stretch")

st.subheader("Fine-tuning or prompt engineering?")
estimate_panels.prompting_vs_finetuning(train, model, estimate)
