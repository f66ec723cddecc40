"""Clustering stages over stored embeddings: k-means and HDBSCAN, keywords, run bookkeeping.

Nothing heavy is imported here; numpy, sklearn and hdbscan are imported by the functions that
use them, so the CLI can import the package cheaply.
"""
