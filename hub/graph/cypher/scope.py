"""The access checkpoint in Cypher: predicates that say whether a token may read a
scoped record.

Each function returns the text of a predicate on one node variable, composed into
the statements of the other modules when they are defined (so each statement stays
one constant that the dialect test parses). The predicates read three parameters,
which `hub.domain.access.Scope.params()` supplies for every statement that returns
or changes scoped records:

- `$scopeUnits`: business units, or null for "not limited";
- `$scopeRegions`: regions, or null for "not limited";
- `$scopeCustomer`: the customer a customer token is bound to, or null;
- `$scopeNow`: the instant at which a customer token's SLAs must be in force
  (`hub.graph.cypher.validity.in_force`), bound once per request.

A null unit or region is never IN a list, so a record without one is visible only
where units (or regions) are not limited, as the contract says.
"""

from __future__ import annotations

from typing import LiteralString

from hub.graph.cypher.validity import in_force

# Spelt out once: the parameter names the repositories pass (`Scope.params()`).
UNLIMITED: LiteralString = (
    "($scopeUnits IS NULL AND $scopeRegions IS NULL AND $scopeCustomer IS NULL)"
)


def _units_and_regions(node: LiteralString) -> LiteralString:
    return (
        f"($scopeUnits IS NULL OR {node}.businessUnit IN $scopeUnits)"
        f" AND ($scopeRegions IS NULL OR {node}.region IN $scopeRegions)"
    )


def customer_visible(node: LiteralString) -> LiteralString:
    """A Customer: in the token's units and regions, and the token's own if bound to one."""
    return (
        f"(($scopeCustomer IS NULL OR {node}.id = $scopeCustomer) AND {_units_and_regions(node)})"
    )


def service_visible(node: LiteralString) -> LiteralString:
    """A Service: in the token's units and regions; for a customer token, covered by
    one of its customer's SLAs in force."""
    sla, customer = f"{node}_sla", f"{node}_customer"
    return (
        f"({_units_and_regions(node)} AND ($scopeCustomer IS NULL OR EXISTS {{"
        f" MATCH ({node})<-[:COVERS]-({sla}:Agreement)-[:FOR_CUSTOMER]->"
        f"({customer}:Customer {{id: $scopeCustomer}})"
        f" WHERE {sla}.kind = 'SLA' AND {in_force(sla, '$scopeNow')} }}))"
    )


def component_visible(node: LiteralString) -> LiteralString:
    """A Service as above; a ConfigurationItem (shared infrastructure) for every
    token but a customer's."""
    return (
        f"(CASE WHEN {node}:Service THEN {service_visible(node)} ELSE $scopeCustomer IS NULL END)"
    )


def internal_visible() -> LiteralString:
    """Teams, vendors and other internal records: every token but a customer's."""
    return "($scopeCustomer IS NULL)"


def agreement_visible(node: LiteralString) -> LiteralString:
    """An SLA belongs to its customer's unit and region (a customer token reads its
    own, while in force); an OLA or UC is readable where one SLA it underpins is, and,
    underpinning none, only by tokens that are not limited at all."""
    customer, sla, via = f"{node}_customer", f"{node}_sla", f"{node}_via"
    return (
        f"({UNLIMITED}"
        f" OR ({node}.kind = 'SLA'"
        f" AND ($scopeCustomer IS NULL OR {in_force(node, '$scopeNow')})"
        f" AND EXISTS {{ MATCH ({node})-[:FOR_CUSTOMER]->({customer}:Customer)"
        f" WHERE {customer_visible(customer)} }})"
        f" OR ({node}.kind <> 'SLA' AND $scopeCustomer IS NULL"
        f" AND EXISTS {{ MATCH ({node})-[:UNDERPINS]->({sla}:Agreement)"
        f"-[:FOR_CUSTOMER]->({via}:Customer) WHERE {customer_visible(via)} }}))"
    )


def objective_visible(node: LiteralString) -> LiteralString:
    """An objective hangs from an agreement or a service and is readable with it."""
    agreement, service = f"{node}_agreement", f"{node}_service"
    return (
        f"({UNLIMITED}"
        f" OR EXISTS {{ MATCH ({agreement}:Agreement)-[:HAS_OBJECTIVE]->({node})"
        f" WHERE {agreement_visible(agreement)} }}"
        f" OR EXISTS {{ MATCH ({service}:Service)-[:HAS_OBJECTIVE]->({node})"
        f" WHERE {service_visible(service)} }})"
    )
