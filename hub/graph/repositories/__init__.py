"""Repositories: the only code that sends Cypher. Each takes a `Graph`."""

from hub.graph.repositories.agreements import AgreementRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.bundles import BundleImporter, ImportCounts
from hub.graph.repositories.components import ComponentRepository
from hub.graph.repositories.gaps import CoverageGapRepository
from hub.graph.repositories.identity import TokenRepository
from hub.graph.repositories.objectives import ObjectiveRepository, SloImportCounts
from hub.graph.repositories.parties import PartyRepository
from hub.graph.repositories.traversals import TraversalRepository

__all__ = [
    "AgreementRepository",
    "AuditRepository",
    "BundleImporter",
    "ComponentRepository",
    "CoverageGapRepository",
    "ImportCounts",
    "ObjectiveRepository",
    "PartyRepository",
    "SloImportCounts",
    "TokenRepository",
    "TraversalRepository",
]
