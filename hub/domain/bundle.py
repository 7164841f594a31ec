"""The import bundle: records keyed by ``externalId`` within a source.

`parse_bundle` validates a whole bundle and reports every problem at once, with the
path of the record and field it concerns, so that a bundle is either loaded whole
or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

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
    # The demo bundle carries agreements for its loader; plain imports do not.
    data = {key: value for key, value in raw.items() if key != "agreements"}
    try:
        # Bundles are JSON/YAML written by people: only the camelCase keys count.
        return Bundle.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise BundleError(
            [f"{_where(error['loc'])}: {error['msg']}" for error in exc.errors()]
        ) from exc


def dangling_component_keys(bundle: Bundle) -> set[str]:
    """Dependency ends that are not components of the bundle: the graph may know them."""
    own = {s.external_id for s in bundle.services} | {
        c.external_id for c in bundle.configuration_items
    }
    ends = {d.from_ for d in bundle.dependencies} | {d.to for d in bundle.dependencies}
    return ends - own


def reference_problems(bundle: Bundle, known_components: frozenset[str] = frozenset()) -> list[str]:
    """Duplicate keys and dangling references, each named by its record path."""
    problems: list[str] = []
    components: set[str] = set()
    records: tuple[_Keyed, ...]
    for collection, records in (
        ("teams", bundle.teams),
        ("vendors", bundle.vendors),
        ("customers", bundle.customers),
    ):
        seen: set[str] = set()
        for index, record in enumerate(records):
            if record.external_id in seen:
                problems.append(
                    f"{collection}[{index}].externalId: {record.external_id!r} appears twice"
                )
            seen.add(record.external_id)
    team_keys = {team.external_id for team in bundle.teams}
    for collection, records in (
        ("services", bundle.services),
        ("configurationItems", bundle.configuration_items),
    ):
        for index, item in enumerate(records):
            if item.external_id in components:
                problems.append(
                    f"{collection}[{index}].externalId: {item.external_id!r} is already used "
                    "by another service or configuration item of this bundle"
                )
            components.add(item.external_id)
    for index, service in enumerate(bundle.services):
        if service.owner_team is not None and service.owner_team not in team_keys:
            problems.append(
                f"services[{index}].ownerTeam: no team {service.owner_team!r} in this bundle"
            )
    resolvable = components | known_components
    for index, dependency in enumerate(bundle.dependencies):
        for end, key in (("from", dependency.from_), ("to", dependency.to)):
            if key not in resolvable:
                problems.append(
                    f"dependencies[{index}].{end}: {key!r} is neither a service nor a "
                    f"configuration item of this bundle or of source {bundle.source!r}"
                )
    return problems
