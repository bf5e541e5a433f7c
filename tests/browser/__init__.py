"""Browser tests: the real app (`streamlit run app.py`) and the real local engine, driven through Chromium."""
