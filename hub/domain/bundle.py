"""The import bundle: records keyed by ``externalId`` within a source.

`bundle_data` reads a bundle file (JSON, or YAML with the same shape) strictly: text
that is not UTF-8 or repeats a key is refused (`hub.domain.documents`). `parse_bundle`
validates a whole bundle and reports every problem at once, with the path of the
record and field it concerns, so that a bundle is either loaded whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from hub.domain.documents import DocumentError, parse_data
from hub.domain.models import Tier

KEY = Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")


class _Record(BaseModel):
    # Code builds records by field name; files are parsed by alias alone (`parse_bundle`).
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


class _Keyed(_Record):
    external_id: str = KEY
    name: str = Field(min_length=1, max_length=300)


class TeamRecord(_Keyed):
    pass


class VendorRecord(_Keyed):
    pass


class CustomerRecord(_Keyed):
    business_unit: str | None = None
    region: str | None = None
    external: bool = False


class ServiceRecord(_Keyed):
    tier: Tier | None = None
    business_unit: str | None = None
    region: str | None = None
    owner_team: str | None = None


class ConfigurationItemRecord(_Keyed):
    ci_class: str = Field(min_length=1, max_length=200)
    environment: str | None = None
    location: str | None = None


class DependencyRecord(_Record):
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)


class Bundle(_Record):
    source: str = Field(default="manual", min_length=1, max_length=100, pattern=r"^[a-z0-9_.-]+$")
    teams: tuple[TeamRecord, ...] = ()
    vendors: tuple[VendorRecord, ...] = ()
    customers: tuple[CustomerRecord, ...] = ()
    services: tuple[ServiceRecord, ...] = ()
    configuration_items: tuple[ConfigurationItemRecord, ...] = ()
    dependencies: tuple[DependencyRecord, ...] = ()


class BundleError(Exception):
    """A bundle that cannot be loaded; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"the bundle was rejected ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}); nothing was written:\n  "
            + "\n  ".join(problems)
        )
        self.problems = problems


def bundle_data(data: bytes, name: str) -> dict[str, Any]:
    """The bundle file `name`, given its bytes, as data: JSON if `name` ends in ``.json``,
    else YAML. Raises `BundleError` for text that is not UTF-8, is not valid JSON or
    YAML, gives a key twice in one object, or is not an object."""
    try:
        raw = parse_data(data, name)
    except DocumentError as exc:
        raise BundleError(exc.problems) from exc
    if not isinstance(raw, dict):
        raise BundleError([f"{name}: a bundle is an object with lists of records"])
    return raw


def _where(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_bundle(raw: Mapping[str, Any]) -> Bundle:
    """Validate the shape of `raw` as a bundle, or raise `BundleError` with every problem.

    References are checked by `reference_problems`, once the components the graph
    already holds under the bundle's source are known.
    """
    # The demo bundle carries agreements for its loader, which authors them as new
    # agreements; plain imports leave them alone. An entry naming a stored agreement
    # (by id or lineage) asks to change its terms, which no import may: refused.
    agreements = raw.get("agreements")
    named = [
        f"agreements[{index}].{key}: an import never changes an agreement; revise it "
        "with reviseAgreement (a new version, approved by another approver)"
        for index, entry in enumerate(agreements if isinstance(agreements, list) else [])
        if isinstance(entry, Mapping)
        for key in ("id", "lineage")
        if key in entry
    ]
    if named:
        raise BundleError(named)
    data = {key: value for key, value in raw.items() if key != "agreements"}
    try:
        # Bundles are JSON/YAML written by people: only the camelCase keys count.
        return Bundle.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise BundleError(
            [f"{_where(error['loc'])}: {error['msg']}" for error in exc.errors()]
        ) from exc


def referenced_keys(bundle: Bundle) -> set[str]:
    """Every key the bundle defines or names: the graph may hold some of them already."""
    keys = {record.external_id for _, _, records in _collections(bundle) for record in records}
    keys |= {d.from_ for d in bundle.dependencies} | {d.to for d in bundle.dependencies}
    keys |= {s.owner_team for s in bundle.services if s.owner_team is not None}
    return keys


def _collections(bundle: Bundle) -> tuple[tuple[str, str, tuple[_Keyed, ...]], ...]:
    return (
        ("teams", "Team", bundle.teams),
        ("vendors", "Vendor", bundle.vendors),
        ("customers", "Customer", bundle.customers),
        ("services", "Service", bundle.services),
        ("configurationItems", "ConfigurationItem", bundle.configuration_items),
    )


COMPONENT_KINDS = frozenset({"Service", "ConfigurationItem"})


def reference_problems(bundle: Bundle, existing: Mapping[str, str] | None = None) -> list[str]:
    """Keys used twice and references that resolve to nothing, each named by its path.

    A key names one record within a source, whatever its kind. `existing` gives the
    kind ("Team", "Service", ...) of keys the graph already holds under the bundle's
    source: a record may not change kind, and references may name those records.
    """
    existing = existing or {}
    problems: list[str] = []
    kinds: dict[str, str] = {}
    for collection, kind, records in _collections(bundle):
        for index, record in enumerate(records):
            key, where = record.external_id, f"{collection}[{index}].externalId"
            if key in kinds:
                problems.append(f"{where}: {key!r} already names a {kinds[key]} of this bundle")
                continue
            kinds[key] = kind
            if existing.get(key, kind) != kind:
                problems.append(
                    f"{where}: {key!r} already names a {existing[key]} of source "
                    f"{bundle.source!r}; a record cannot change kind"
                )
    known = {**existing, **kinds}
    for index, service in enumerate(bundle.services):
        if service.owner_team is not None and known.get(service.owner_team) != "Team":
            problems.append(
                f"services[{index}].ownerTeam: no team {service.owner_team!r} in this bundle "
                f"or in source {bundle.source!r}"
            )
    for index, dependency in enumerate(bundle.dependencies):
        for end, key in (("from", dependency.from_), ("to", dependency.to)):
            if known.get(key) not in COMPONENT_KINDS:
                problems.append(
                    f"dependencies[{index}].{end}: {key!r} is neither a service nor a "
                    f"configuration item of this bundle or of source {bundle.source!r}"
                )
    return problems
