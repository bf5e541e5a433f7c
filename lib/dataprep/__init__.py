"""Preparing data: reading, editing, checking and saving a dataset, and growing it."""
