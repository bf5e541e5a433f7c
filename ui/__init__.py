"""Streamlit glue shared by the pages: session-state keys, the sidebar, small renderers.

Logic lives in lib/; this package only lays out widgets and calls into lib/.
"""
