"""Fine-Tune Studio's logic: everything the pages and the command line share.

Nothing in this package imports streamlit. Heavy dependencies (torch, transformers)
are imported inside the functions that use them so that `python -m lib check` stays fast.
"""
