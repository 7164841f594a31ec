"""The graph: driver, embedded server, migrations, Cypher and repositories."""
