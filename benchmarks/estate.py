"""A deterministic estate of any size, generated record by record (100k to 1M CIs and more).

Every CI and every dependency is a pure function of the seed and its position, so the
estate is streamed (`Estate.cis`, `Estate.dependencies`, `Estate.bundles`) or read at
random (`Estate.ci`, `Estate.dependencies_of`) without holding it: a million CIs and
three million edges never sit in one list.

Shape, from the bottom up (consumer DEPENDS_ON provider):

- shared infrastructure, per data centre (``dcs`` of them, default one per 50,000 CIs,
  at least 2): a core router, a storage array and a DNS server;
- hardware (35 % of the other CIs: Linux and Windows servers, load balancers), each on
  its data centre's core router and storage array;
- VMs (20 %): one or two hosts, and their data centre's DNS;
- app servers, DB instances and databases (25 %): three to five VMs, half of them the
  DNS too;
- applications (15 %): two to five of the layer below; business apps (5 %): three to
  six applications;
- business services (``services``, default one per 200 CIs) on top: six to fourteen
  business apps each.

A CI's data centre is its relative position in its layer, and it picks its providers
near that position in the layer below (one pick in seven two layers down), so walks
stay local: a VM has a few dozen dependants, a data centre's core router about
1/``dcs`` of the estate. On average a CI has about three dependencies. Every edge is a
ServiceNow dependency type (`hub.connectors.servicenow.DEPENDENCY_TYPES`), so each one
becomes a ``DEPENDS_ON`` edge in the hub. Nothing is retired: every component is ACTIVE.

sys_ids are a keyed hash of the record's key (32 hex digits), so any order by sys_id is
unrelated to the layers; record keys (``externalId`` in bundles) are readable.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)  # the fake's clock at the first sync
HISTORY_SECONDS = 365 * 24 * 3600  # records were last updated within the year before
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CIS_PER_DC = 50_000
CIS_PER_SERVICE = 200
SPREAD = 0.002  # how far (a share of the layer) a CI looks for its providers

INFRA_KINDS = (
    ("core-router", "cmdb_ci_netgear"),
    ("storage", "cmdb_ci_hardware"),
    ("dns", "cmdb_ci_unix_server"),
)
# Layers above the infrastructure, bottom up: (classes with their shares within the
# layer, share of the CIs that are neither infrastructure nor services).
LAYERS: tuple[tuple[tuple[tuple[str, float], ...], float], ...] = (
    ((("cmdb_ci_linux_server", 0.63), ("cmdb_ci_win_server", 0.29), ("cmdb_ci_lb", 0.08)), 0.35),
    ((("cmdb_ci_vm_instance", 1.0),), 0.20),
    (
        (("cmdb_ci_app_server", 0.48), ("cmdb_ci_db_instance", 0.32), ("cmdb_ci_database", 0.20)),
        0.25,
    ),
    ((("cmdb_ci_appl", 1.0),), 0.15),
    ((("cmdb_ci_business_app", 1.0),), 0.05),
)
HARDWARE_LAYER = 0
SERVICE_CLASSES = (
    ("cmdb_ci_service_business", 0.6),
    ("cmdb_ci_service_technical", 0.3),
    ("cmdb_ci_service_discovered", 0.1),
)
# Dependency types only (each a DEPENDS_ON in the hub), with their shares.
DEPENDENCY_TYPES = (
    ("Depends on::Used by", 0.45),
    ("Runs on::Runs", 0.25),
    ("Hosted on::Hosts", 0.15),
    ("Uses::Used by", 0.10),
    ("Contains::Contained by", 0.05),
)
ENVIRONMENTS = ("Production", "Production", "Production", "Test", "Development")


@dataclass(frozen=True, slots=True)
class Ci:
    """One CI as ServiceNow holds it: `fields` are ``cmdb_ci`` columns (``location`` as a
    location name); `layer` is -1 for shared infrastructure, ``len(LAYERS)`` for services."""

    key: str
    sys_id: str
    name: str
    class_name: str
    layer: int
    dc: int
    fields: dict[str, str]

    @property
    def service(self) -> bool:
        return self.layer == len(LAYERS)


@dataclass(frozen=True, slots=True)
class Dependency:
    """`consumer` DEPENDS_ON `provider` (keys); in ServiceNow the consumer is the parent."""

    consumer: str
    provider: str
    consumer_sys_id: str
    provider_sys_id: str
    type_name: str
    sys_id: str
    updated: str


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    point = rng.random()
    for name, share in weighted:
        point -= share
        if point < 0:
            return name
    return weighted[-1][0]


class Estate:
    """The estate of `cis` CIs (services and shared infrastructure included) for `seed`."""

    def __init__(
        self,
        cis: int,
        seed: int = 7,
        *,
        services: int | None = None,
        dcs: int | None = None,
        prefix: str = "",
    ) -> None:
        self.seed = seed
        self.prefix = prefix
        self.dcs = dcs if dcs is not None else max(2, round(cis / CIS_PER_DC))
        self.services = services if services is not None else max(1, cis // CIS_PER_SERVICE)
        others = cis - self.services - self.dcs * len(INFRA_KINDS)
        if others < 10 * len(LAYERS):
            raise ValueError(f"{cis} CIs are too few for {self.dcs} data centres and services")
        sizes = [max(1, round(others * share)) for _, share in LAYERS]
        sizes[0] += others - sum(sizes)
        self.sizes = tuple(sizes)
        self.total = cis

    # ---- keys ---------------------------------------------------------------------------

    def key(self, layer: int, index: int) -> str:
        """The key of the `index`-th CI of `layer` (-1: infrastructure, index = dc * 3 +
        kind; ``len(LAYERS)``: services)."""
        if layer < 0:
            dc, kind = divmod(index, len(INFRA_KINDS))
            return f"{self.prefix}{INFRA_KINDS[kind][0]}-{dc + 1:02d}"
        if layer == len(LAYERS):
            return f"{self.prefix}svc-{index:06d}"
        return f"{self.prefix}ci-{layer}-{index:07d}"

    def sys_id(self, key: str) -> str:
        digest = hashlib.blake2b(f"{self.seed}|{key}".encode(), digest_size=16)
        return digest.hexdigest()

    def router(self, dc: int = 0) -> str:
        """The key of data centre `dc`'s core router."""
        return self.key(-1, dc * len(INFRA_KINDS))

    def size(self, layer: int) -> int:
        if layer < 0:
            return self.dcs * len(INFRA_KINDS)
        if layer == len(LAYERS):
            return self.services
        return self.sizes[layer]

    def _rng(self, stream: int, layer: int, index: int) -> random.Random:
        """The random stream `stream` (0: the record, 1: its providers, 2: its edges) of
        one CI, independent of every other CI's."""
        return random.Random((self.seed << 40) | (stream << 36) | ((layer + 1) << 32) | index)

    def _dc(self, layer: int, index: int) -> int:
        if layer < 0:
            return index // len(INFRA_KINDS)
        return min(self.dcs - 1, int((index + 0.5) / self.size(layer) * self.dcs))

    def _stamp(self, rng: random.Random) -> str:
        seconds = rng.uniform(3600, HISTORY_SECONDS)
        return (NOW - timedelta(seconds=seconds)).strftime(TIME_FORMAT)

    # ---- records ------------------------------------------------------------------------

    def ci(self, layer: int, index: int) -> Ci:
        rng = self._rng(0, layer, index)
        key = self.key(layer, index)
        dc = self._dc(layer, index)
        stamp = self._stamp(rng)
        fields = {"sys_created_on": stamp, "sys_updated_on": stamp}
        if layer == len(LAYERS):
            class_name = _pick(rng, SERVICE_CLASSES)
            return Ci(key, self.sys_id(key), f"Service {index:06d}", class_name, layer, dc, fields)
        fields["environment"] = "Production" if layer < 0 else rng.choice(ENVIRONMENTS)
        fields["location"] = f"DC {dc + 1:02d}"
        if layer < 0:
            class_name = INFRA_KINDS[index % len(INFRA_KINDS)][1]
            name = key
        else:
            class_name = _pick(rng, LAYERS[layer][0])
            name = f"{class_name[8:]}-{index:07d}"
        if layer < 0 or layer == HARDWARE_LAYER:
            fields["serial_number"] = f"SN{self.sys_id(key)[:12].upper()}"
            fields["fqdn"] = f"{key}.dc{dc + 1:02d}.{self.prefix}example.net"
        return Ci(key, self.sys_id(key), name, class_name, layer, dc, fields)

    def cis(self) -> Iterator[Ci]:
        """Every CI, infrastructure first, then layer by layer, services last."""
        for layer in range(-1, len(LAYERS) + 1):
            for index in range(self.size(layer)):
                yield self.ci(layer, index)

    def _near(self, rng: random.Random, layer: int, position: float) -> int:
        size = self.size(layer)
        index = round(position * size + rng.gauss(0.0, SPREAD * size))
        return min(max(index, 0), size - 1)

    def _providers(self, layer: int, index: int) -> list[tuple[int, int]]:
        """(layer, index) of what CI `index` of `layer` depends on, distinct, in order."""
        if layer < 0:
            return []
        rng = self._rng(1, layer, index)
        position = (index + 0.5) / self.size(layer)
        dc = self._dc(layer, index)
        infra = dc * len(INFRA_KINDS)
        picks: list[tuple[int, int]] = []
        below = layer - 1
        if layer == 0:
            picks = [(-1, infra), (-1, infra + 1)]  # core router, storage
        elif layer == 1:
            picks = [(0, self._near(rng, 0, position)) for _ in range(rng.randint(1, 2))]
            picks.append((-1, infra + 2))  # DNS
        elif layer == len(LAYERS):
            below = len(LAYERS) - 1
            picks = [(below, self._near(rng, below, position)) for _ in range(rng.randint(6, 14))]
        else:
            low, high = {2: (3, 5), 3: (2, 5), 4: (3, 6)}[layer]
            for _ in range(rng.randint(low, high)):
                level = layer - 2 if rng.random() < 1 / 7 else below
                picks.append((level, self._near(rng, level, position)))
            if layer == 2 and rng.random() < 0.5:
                picks.append((-1, infra + 2))
        return list(dict.fromkeys(picks))

    def dependencies_of(self, layer: int, index: int) -> list[Dependency]:
        consumer = self.key(layer, index)
        consumer_sys_id = self.sys_id(consumer)
        rng = self._rng(2, layer, index)
        found = []
        for provider_layer, provider_index in self._providers(layer, index):
            provider = self.key(provider_layer, provider_index)
            found.append(
                Dependency(
                    consumer,
                    provider,
                    consumer_sys_id,
                    self.sys_id(provider),
                    _pick(rng, DEPENDENCY_TYPES),
                    self.sys_id(f"{consumer}>{provider}"),
                    self._stamp(rng),
                )
            )
        return found

    def dependencies(self, order: list[tuple[int, int]] | None = None) -> Iterator[Dependency]:
        """Every dependency, consumer by consumer, in `order` of (layer, index) (default:
        as `cis` yields them)."""
        if order is None:
            for layer in range(-1, len(LAYERS) + 1):
                for index in range(self.size(layer)):
                    yield from self.dependencies_of(layer, index)
        else:
            for layer, index in order:
                yield from self.dependencies_of(layer, index)

    def positions(self) -> Iterator[tuple[int, int]]:
        """(layer, index) of every CI, in the order `cis` yields them."""
        for layer in range(-1, len(LAYERS) + 1):
            for index in range(self.size(layer)):
                yield layer, index

    def by_sys_id(self) -> list[tuple[int, int]]:
        """(layer, index) of every CI in sys_id order (about 100 bytes a CI)."""
        return sorted(self.positions(), key=lambda p: self.sys_id(self.key(*p)))

    # ---- feeds --------------------------------------------------------------------------

    def bundles(self, source: str, rows: int) -> Iterator[dict[str, Any]]:
        """Import bundles for `hub.graph.repositories.BundleImporter.load`: CIs bottom-up
        and services in bundles of `rows`, then dependencies in bundles of `rows` (later
        bundles name components of earlier ones, which the importer looks up)."""
        chunk: list[Ci] = []
        for ci in self.cis():
            chunk.append(ci)
            if len(chunk) == rows:
                yield _node_bundle(source, chunk)
                chunk = []
        if chunk:
            yield _node_bundle(source, chunk)
        edges: list[dict[str, str]] = []
        for dependency in self.dependencies():
            edges.append({"from": dependency.consumer, "to": dependency.provider})
            if len(edges) == rows:
                yield {"source": source, "dependencies": edges}
                edges = []
        if edges:
            yield {"source": source, "dependencies": edges}


def _node_bundle(source: str, chunk: list[Ci]) -> dict[str, Any]:
    def item(ci: Ci) -> dict[str, str]:
        found = {"externalId": ci.key, "name": ci.name}
        if not ci.service:
            found["ciClass"] = ci.class_name
            found["environment"] = ci.fields["environment"]
            found["location"] = ci.fields["location"]
        return found

    return {
        "source": source,
        "configurationItems": [item(ci) for ci in chunk if not ci.service],
        "services": [item(ci) for ci in chunk if ci.service],
    }
