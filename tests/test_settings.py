"""Settings: environment and TOML sources, validation messages, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import (
    PolicySettings,
    RemediationSettings,
    Settings,
    SettingsError,
    SloSettings,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config/hub.toml unless a test writes one


def test_defaults_use_the_embedded_graph() -> None:
    settings = load_settings()
    assert settings.uses_embedded_graph
    assert settings.data_dir == Path("./var")
    assert settings.development
    assert settings.pagerduty.url is not None
    assert str(settings.pagerduty.url) == "https://api.pagerduty.com/"


def test_environment_with_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_NEO4J__URI", "neo4j+s://graph.example.com")
    monkeypatch.setenv("HUB_NEO4J__PASSWORD", "s3cret-value")
    monkeypatch.setenv("HUB_API__MAX_PAGE_SIZE", "100")
    settings = load_settings()
    assert settings.neo4j.uri == "neo4j+s://graph.example.com"
    assert not settings.uses_embedded_graph
    assert settings.api.max_page_size == 100
    assert settings.neo4j.password is not None
    assert settings.neo4j.password.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(settings.model_dump())


def test_toml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "hub.toml").write_text(
        'log_level = "DEBUG"\n[api]\nmax_depth = 7\nmax_aliases = 5\n'
    )
    monkeypatch.setenv("HUB_API__MAX_ALIASES", "9")
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.api.max_depth == 7
    assert settings.api.max_aliases == 9


def test_every_problem_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_NEO4J__URI", "http://graph.example.com")
    monkeypatch.setenv("HUB_EMBEDDED__HEAP", "lots")
    monkeypatch.setenv("HUB_API__MAX_PAGE_SIZE", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "HUB_NEO4J__URI: Value error, must start with one of bolt://" in message
    assert "HUB_EMBEDDED__HEAP" in message
    assert "HUB_API__MAX_PAGE_SIZE" in message


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "hub.toml").write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="HUB_COLOUR"):
        load_settings()


def test_an_empty_uri_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_NEO4J__URI", "")
    assert Settings().uses_embedded_graph


def test_scheduled_backups_are_daily_into_the_data_dir_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert (settings.backup.interval_hours, settings.backup.keep) == (24, 7)
    assert settings.backup_directory == Path("./var/backups")
    monkeypatch.setenv("HUB_DATA_DIR", "/srv/hub")
    assert load_settings().backup_directory == Path("/srv/hub/backups")
    monkeypatch.setenv("HUB_BACKUP__DIRECTORY", "/mnt/elsewhere")
    monkeypatch.setenv("HUB_BACKUP__INTERVAL_HOURS", "0")
    settings = load_settings()
    assert settings.backup_directory == Path("/mnt/elsewhere")
    assert settings.backup.interval_hours == 0
    monkeypatch.setenv("HUB_BACKUP__KEEP", "0")
    with pytest.raises(SettingsError, match="HUB_BACKUP__KEEP"):
        load_settings()


# ---- approval boards ------------------------------------------------------------------


def test_approval_boards_are_read_from_the_toml_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "hub.toml").write_text(
        "[policy]\n"
        'groups = ["it", "legal", "business"]\n'
        "[[policy.boards]]\n"
        'kind = "SLA"\ntier = "TIER_1"\ngroups = ["it", "legal", "business"]\n'
        "[[policy.boards]]\n"
        'kind = "UC"\ngroups = ["legal"]\n'
    )
    from hub.domain.boards import Board
    from hub.domain.models import AgreementKind, Tier

    settings = load_settings()
    assert settings.policy.approvals_required == 1
    assert settings.policy.approval_boards() == (
        Board(AgreementKind.SLA, Tier.TIER_1, ("it", "legal", "business")),
        Board(AgreementKind.UC, None, ("legal",)),
    )
    assert PolicySettings().approval_boards() == ()  # the default: none


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (
            {"groups": ["it"], "boards": [{"kind": "SLA", "tier": "TIER_1", "groups": ["legal"]}]},
            "unknown group 'legal'; name it in policy.groups (known: it)",
        ),
        (
            {"boards": [{"kind": "SLA", "groups": ["it"]}]},
            "unknown group 'it'; name it in policy.groups (known: none are)",
        ),
        (
            {"groups": ["it"], "boards": [{"kind": "SLA", "tier": "TIER_1", "groups": []}]},
            "HUB_POLICY__BOARDS__0__GROUPS",
        ),
        (
            {"groups": ["it"], "boards": [{"kind": "SLA", "groups": ["it", "it"]}]},
            "'it' is named twice",
        ),
        (
            {
                "groups": ["it", "legal"],
                "boards": [
                    {"kind": "OLA", "tier": "TIER_2", "groups": ["it"]},
                    {"kind": "OLA", "tier": "TIER_2", "groups": ["legal"]},
                ],
            },
            "boards.1: a second board for OLA and TIER_2",
        ),
        ({"groups": ["it"], "boards": [{"kind": "XLA", "groups": ["it"]}]}, "HUB_POLICY__BOARDS"),
        (
            {"groups": ["it"], "boards": [{"kind": "SLA", "tier": "GOLD", "groups": ["it"]}]},
            "BOARDS__0__TIER",
        ),
        ({"groups": ["it legal"]}, "'it legal': use letters, digits"),
        ({"group": ["it"]}, "HUB_POLICY__GROUP"),
    ],
)
def test_approval_boards_are_validated_at_start_up(policy: dict[str, object], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(policy=policy)
    assert problem in str(caught.value)


def test_assessment_never_looks_past_the_telemetry_kept() -> None:
    with pytest.raises(ValidationError, match="assess_days: 400 must be below retention_days"):
        SloSettings(assess_days=400, retention_days=400)
    assert SloSettings(assess_days=93, retention_days=94).assess_days == 93


def test_remediation_settings_name_every_severity_once() -> None:
    with pytest.raises(ValidationError, match="give the business days for MINOR"):
        RemediationSettings(rca_business_days={"CRITICAL": 1, "MAJOR": 2})
    with pytest.raises(ValidationError, match="unknown severity LOW"):
        RemediationSettings(rca_business_days={"CRITICAL": 1, "MAJOR": 2, "MINOR": 3, "LOW": 4})
    with pytest.raises(ValidationError, match="of_last_periods: must not exceed last_periods"):
        RemediationSettings(performance={"of_last_periods": 7, "last_periods": 6})
