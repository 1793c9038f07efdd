"""Benchmarks of the ingest, geocoding and fitting stages (``python benchmarks/run.py``)."""
