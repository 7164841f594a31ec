"""The audit trail's hash chain as pure code: canonical JSON, record hashes, and a
verifier that names the first record that was edited, removed or inserted."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    ChainHead,
    Tampering,
    canonical_json,
    record_hash,
    verify_chain,
    wire_time,
)
from hub.domain.workflow import Actor, Role

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def chain(entries: list[AuditEntry], start: datetime = START) -> list[AuditRecord]:
    """Records as the graph layer seals them: one per entry, a second apart."""
    records: list[AuditRecord] = []
    previous = GENESIS_HASH
    for index, entry in enumerate(entries, start=1):
        at = (start + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        record = AuditRecord.seal(f"aud_{index:04d}", index, at, entry, previous)
        records.append(record)
        previous = record.hash
    return records


def head_of(records: list[AuditRecord]) -> ChainHead:
    return ChainHead(records[-1].sequence, records[-1].hash) if records else ChainHead()


def entries(count: int) -> list[AuditEntry]:
    return [
        AuditEntry.of(
            "alice",
            "agreement.submit",
            f"agr_{i}",
            reason=f"step {i}",
            before={"status": "DRAFT"},
            after={"status": "PENDING_APPROVAL", "approvals": []},
        )
        for i in range(count)
    ]


# ---- canonical JSON and the hash --------------------------------------------------------


def test_canonical_json_sorts_keys_keeps_unicode_and_drops_whitespace() -> None:
    value = {"b": [1, {"z": None, "a": "Zürich \u2013 東京"}], "a": True}

    assert canonical_json(value) == '{"a":true,"b":[1,{"a":"Zürich \u2013 東京","z":null}]}'


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": float("nan")})


def test_the_hash_is_sha256_of_the_canonical_object_with_the_contract_keys() -> None:
    expected_text = (
        '{"action":"agreement.approve","actor":"bob","after":"{\\"status\\":\\"ACTIVE\\"}",'
        '"at":"2026-03-01T08:00:00.250000Z","before":null,'
        f'"previousHash":"{"a" * 64}","reason":"geprüft","sequence":7,"targetId":"agr_1"}}'
    )

    digest = record_hash(
        7,
        "2026-03-01T08:00:00.250000Z",
        "bob",
        "agreement.approve",
        "agr_1",
        "geprüft",
        None,
        '{"status":"ACTIVE"}',
        "a" * 64,
    )

    assert digest == hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    assert digest == digest.lower()
    assert len(digest) == 64


@pytest.mark.parametrize(
    ("moment", "wire"),
    [
        (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), "2026-03-01T08:00:00Z"),
        (datetime(2026, 3, 1, 8, 0, 0, 1500, tzinfo=UTC), "2026-03-01T08:00:00.001500Z"),
        (
            datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1))),
            "2026-03-01T08:00:00Z",
        ),
    ],
)
def test_times_are_hashed_as_the_api_writes_them(moment: datetime, wire: str) -> None:
    assert wire_time(moment) == wire


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        wire_time(datetime(2026, 3, 1))  # naive: the point of the test


def test_a_sealed_record_hashes_its_values_as_the_api_shows_them() -> None:
    entry = AuditEntry.of(
        Actor("carol", Role.APPROVER),
        "agreement.approve",
        "agr_1",
        reason="ok",
        before={"status": "PENDING_APPROVAL"},
        after={"status": "ACTIVE", "approvals": ["carol"]},
    )

    record = AuditRecord.seal("aud_1", 1, "2026-03-01T08:00:00.000000Z", entry, GENESIS_HASH)

    assert record.actor == "carol"
    assert record.after == '{"approvals":["carol"],"status":"ACTIVE"}'
    assert record.wire_at == "2026-03-01T08:00:00Z"
    assert record.hash == record_hash(
        1,
        "2026-03-01T08:00:00Z",
        "carol",
        "agreement.approve",
        "agr_1",
        "ok",
        '{"status":"PENDING_APPROVAL"}',
        '{"approvals":["carol"],"status":"ACTIVE"}',
        GENESIS_HASH,
    )


def test_a_record_with_an_unreadable_time_never_matches() -> None:
    (record,) = chain(entries(1))

    assert dataclasses.replace(record, at="yesterday").expected_hash() == ""


# ---- verification -------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    records = chain(entries(5))

    report = verify_chain(records, head_of(records))

    assert report.intact
    assert report.records == 5
    assert report.summary() == (
        f"audit chain intact: 5 records, head sequence 5, hash {records[-1].hash}"
    )


def test_an_empty_trail_verifies() -> None:
    assert verify_chain([], None).intact
    assert verify_chain([], ChainHead()).intact


def test_an_edited_record_is_named() -> None:
    records = chain(entries(5))
    records[2] = dataclasses.replace(records[2], reason="nothing to see")

    report = verify_chain(records, head_of(records))

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.record_id) == (
        Tampering.EDITED,
        "aud_0003",
    )
    assert str(report.first_break) == (
        "record aud_0003 (sequence 3) was edited: its values do not match its hash"
    )
    assert report.records == 2


def test_an_edited_and_rehashed_record_breaks_the_link_to_the_next() -> None:
    records = chain(entries(5))
    edited = dataclasses.replace(records[2], reason="nothing to see")
    records[2] = dataclasses.replace(edited, hash=edited.digest())

    report = verify_chain(records, head_of(records))

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.record_id) == (
        Tampering.REMOVED,
        "aud_0004",
    )
    assert "previousHash is not the hash of the record before it" in report.first_break.detail


def test_a_removed_record_is_named_by_the_one_after_the_gap() -> None:
    records = chain(entries(5))
    del records[1]

    report = verify_chain(records, head_of(records))

    assert report.first_break is not None
    assert str(report.first_break) == (
        "record aud_0003 (sequence 3) was removed: "
        "the record(s) with sequence 2 before it are missing"
    )


def test_removed_records_at_the_end_are_caught_by_the_head() -> None:
    records = chain(entries(5))
    head = head_of(records)

    report = verify_chain(records[:3], head)

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.sequence) == (Tampering.REMOVED, 4)
    assert "sequence 4 to 5, are missing" in report.first_break.detail


def test_a_duplicated_sequence_is_an_insertion() -> None:
    records = chain(entries(4))
    forged = dataclasses.replace(records[1], id="aud_0002x", reason="forged")
    records.insert(2, forged)

    report = verify_chain(records, head_of(records))

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.record_id) == (
        Tampering.INSERTED,
        "aud_0002x",
    )
    assert "already taken by record aud_0002" in report.first_break.detail


def test_a_well_formed_record_appended_past_the_head_is_an_insertion() -> None:
    records = chain(entries(4))
    head = head_of(records)
    extra = AuditRecord.seal(
        "aud_extra", 5, "2026-03-02T00:00:00.000000Z", entries(1)[0], records[-1].hash
    )

    report = verify_chain([*records, extra], head)

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.record_id) == (
        Tampering.INSERTED,
        "aud_extra",
    )


def test_a_record_without_a_sequence_is_an_insertion() -> None:
    records = chain(entries(2))

    report = verify_chain(records, head_of(records), unsequenced="aud_loose")

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.record_id) == (
        Tampering.INSERTED,
        "aud_loose",
    )


def test_a_missing_head_is_a_removal() -> None:
    records = chain(entries(2))

    report = verify_chain(records, None)

    assert report.first_break is not None
    assert report.first_break.kind is Tampering.REMOVED


# ---- properties -----------------------------------------------------------------------

texts = st.text(max_size=30)
optional_texts = st.none() | texts
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
audit_entries = st.builds(
    AuditEntry.of,
    actor=texts,
    action=texts,
    target_id=optional_texts,
    reason=optional_texts,
    before=st.none() | st.dictionaries(texts, json_values, max_size=3),
    after=st.none() | st.dictionaries(texts, json_values, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(audit_entries, min_size=1, max_size=8))
def test_any_sealed_chain_verifies_and_its_json_round_trips(chained: list[AuditEntry]) -> None:
    records = chain(chained)

    assert verify_chain(records, head_of(records)).intact
    for record, entry in zip(records, chained, strict=True):
        for text in (record.before, record.after):
            if text is not None:
                assert canonical_json(json.loads(text)) == text
        assert record.actor == entry.actor


@settings(max_examples=80, deadline=None)
@given(
    st.lists(audit_entries, min_size=2, max_size=6),
    st.data(),
)
def test_any_change_to_any_hashed_value_is_named_at_that_record(
    chained: list[AuditEntry], data: st.DataObject
) -> None:
    records = chain(chained)
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(
        st.sampled_from(["actor", "action", "target_id", "reason", "before", "after"])
    )
    original = getattr(records[index], field)
    changed = data.draw(optional_texts.filter(lambda value: value != original))
    if field in ("actor", "action") and changed is None:
        changed = f"{original}!"
    records[index] = dataclasses.replace(records[index], **{field: changed})

    report = verify_chain(records, head_of(chain(chained)))

    assert report.first_break is not None
    assert report.first_break.kind is Tampering.EDITED
    assert report.first_break.record_id == records[index].id


def test_a_record_slipped_in_and_renumbered_around_is_named() -> None:
    originals = chain(entries(4))
    # A forger who knows the algorithm seals a record after record 2 and renumbers
    # the records after it: the forged record itself checks out.
    forged = AuditRecord.seal(
        "aud_forged", 3, "2026-03-01T08:00:02.500000Z", entries(1)[0], originals[1].hash
    )
    shifted = [dataclasses.replace(r, sequence=r.sequence + 1) for r in originals[2:]]
    records = [*originals[:2], forged, *shifted]

    report = verify_chain(records, ChainHead(5, shifted[-1].hash))

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.record_id) == (
        Tampering.INSERTED,
        "aud_forged",
    )
    assert str(report.first_break) == (
        "record aud_forged (sequence 3) was inserted: record aud_0003 (sequence 4) links "
        "past it to the record before it"
    )
