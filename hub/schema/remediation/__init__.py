"""Violations and remediation, credits, OLA and vendor performance
(`remediation.graphql`)."""
