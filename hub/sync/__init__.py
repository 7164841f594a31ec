"""Sync jobs and pipelines (see the connectors issue)."""
