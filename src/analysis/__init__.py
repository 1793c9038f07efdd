"""Outage post-mortem analysis."""
