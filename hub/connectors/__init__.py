"""Connectors to external systems, one module each (see the connectors issue)."""
