"""Comparing and reporting: side-by-side runs, held-out scores, sweeps, charts, the report."""
