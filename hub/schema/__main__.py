"""Print the served GraphQL schema: `python -m hub.schema > docs/schema.graphql`."""

from __future__ import annotations

from hub.schema import build_schema

if __name__ == "__main__":
    print(build_schema().as_str())
