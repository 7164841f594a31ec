"""The service level engine: domain maths applied to what the graph holds.

Between the schema (or the CLI) and the graph: reads measurements and incidents
through the repositories, computes with `hub.domain`, and writes what it decides
(violations). Resolvers stay thin by calling these.
"""
