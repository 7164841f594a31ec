"""Service Agreements Hub: a GraphQL integration hub for service agreements."""
