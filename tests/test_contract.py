"""Contract v1 validation: every type and field, valid and invalid, with precise reasons."""

from __future__ import annotations

import pytest

from data_feed.contract import EVENT_TYPES, parse_entry
from data_feed.errors import MalformedEvent
from tests.events import REQUIRED, VALID


def test_every_contract_type_has_a_sample() -> None:
    assert set(VALID) == set(EVENT_TYPES) == set(REQUIRED)


@pytest.mark.parametrize("etype", sorted(VALID))
def test_valid_entries_parse_with_typed_fields(etype: str) -> None:
    event = parse_entry(VALID[etype])
    assert event.type == etype
    assert event.ts == 1778285730.0  # 2026-05-09T08:15:30+08:00
    for name in REQUIRED[etype]:
        assert name in event.data


@pytest.mark.parametrize("etype,field", [(t, f) for t, fs in REQUIRED.items() for f in fs + ("ts", "type")])
def test_missing_required_field_names_it(etype: str, field: str) -> None:
    entry = dict(VALID[etype])
    del entry[field]
    with pytest.raises(MalformedEvent, match=repr(field)):
        parse_entry(entry)


@pytest.mark.parametrize("etype,field", [(t, f) for t, fs in REQUIRED.items() for f in fs])
def test_empty_required_field_is_missing(etype: str, field: str) -> None:
    entry = dict(VALID[etype], **{field: ""})
    with pytest.raises(MalformedEvent, match="missing required field"):
        parse_entry(entry)


@pytest.mark.parametrize("etype,field,value,reason", [
    ("warden.position", "lat", "north", "is not a number"),
    ("warden.position", "lat", "91", "out of range"),
    ("warden.position", "lon", "-181", "out of range"),
    ("warden.position", "lat", "nan", "out of range"),
    ("warden.position", "battery", "120", "out of range"),
    ("warden.position", "speed_mps", "-1", "out of range"),
    ("warden.position", "accuracy_m", "x", "is not a number"),
    ("checkpoint.registered", "lon", "", "missing required field"),
    ("inspection.completed", "result", "fine", "is not one of"),
    ("case.reported", "channel", "fax", "is not one of"),
    ("case.reported", "priority", "low", "is not one of"),
    ("case.escalated", "level", "city", "is not one of"),
    ("case.dispatched", "unit_type", "army", "is not one of"),
    ("case.dispatched", "deadline", "tomorrow", "not an ISO 8601"),
    ("case.dispatched", "deadline", "2026-05-10T08:00:00", "no UTC offset"),
    ("case.rated", "satisfied", "yes", "is not one of"),
    ("case.rated", "score", "6", "integer from 1 to 5"),
    ("case.rated", "score", "4.5", "integer from 1 to 5"),
    ("case.closed", "ts", "2026-05-09 08:15", "no UTC offset"),
    ("case.closed", "ts", "yesterday", "not an ISO 8601"),
    ("case.closed", "type", "case.reopened", "not a contract v1 event type"),
    ("case.closed", "v", "2", "not a supported contract version"),
])
def test_invalid_values_are_rejected_with_the_value(etype: str, field: str, value: str, reason: str) -> None:
    entry = dict(VALID[etype], **{field: value})
    with pytest.raises(MalformedEvent) as info:
        parse_entry(entry)
    assert reason in str(info.value)
    if value:
        assert value in str(info.value)


def test_defaults_for_optional_enums() -> None:
    entry = dict(VALID["case.reported"])
    del entry["priority"]
    assert parse_entry(entry).data["priority"] == "normal"
    esc = dict(VALID["case.escalated"])
    del esc["level"]
    assert parse_entry(esc).data["level"] == "street"
    assert parse_entry(dict(VALID["case.closed"], v="1")).type == "case.closed"


def test_positions_and_events_belong_on_their_streams() -> None:
    with pytest.raises(MalformedEvent, match="belongs on the positions stream"):
        parse_entry(VALID["warden.position"], "events")
    with pytest.raises(MalformedEvent, match="does not belong on the positions stream"):
        parse_entry(VALID["case.closed"], "positions")
    assert parse_entry(VALID["warden.position"], "positions").data["lat"] == 41.12


def test_z_offset_and_other_offsets_are_accepted() -> None:
    utc = parse_entry(dict(VALID["case.closed"], ts="2026-05-09T00:15:30Z"))
    cst = parse_entry(dict(VALID["case.closed"], ts="2026-05-09T08:15:30+08:00"))
    assert utc.ts == cst.ts


def test_personal_fields_never_appear_in_repr() -> None:
    event = parse_entry(VALID["case.reported"])
    assert event.data["description"] == VALID["case.reported"]["description"]
    text = repr(event)
    assert "13800000000" not in text and "张三" not in text
