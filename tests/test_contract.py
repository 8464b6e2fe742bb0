"""Contract v1 validation: every type and field, valid and invalid, with precise reasons."""

from __future__ import annotations

import pytest
import redis

from data_feed.contract import EVENT_TYPES, fast_position, parse_entry, parse_ts
from data_feed.errors import MalformedEvent
from tests.events import REQUIRED, VALID
from tests.helpers import feed, make_runtime


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
    ("warden.position", "lat", "nan", "is not a number"),
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
    ("case.rated", "score", "５", "integer from 1 to 5"),
    ("case.rated", "score", " 5", "integer from 1 to 5"),
    ("case.rated", "score", "05", "integer from 1 to 5"),
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


NUMERIC_FIELDS = [("warden.position", f) for f in ("lat", "lon", "accuracy_m", "speed_mps", "battery")] + [
    (t, f) for t in ("checkpoint.registered", "case.reported") for f in ("lat", "lon")]
NOT_PLAIN_NUMBERS = ["４１.１", "4_1.1", "1_0", " 41.1", "41.1 ", "\t41", "41\n", "٤١", "4\u00a01", "inf", "-inf",
                     "Infinity", "nan", "NaN", "0x29", "41.", "+-1", "--1", "1e", "e5", "1.2.3", "41,1"]


@pytest.mark.parametrize("etype,field", NUMERIC_FIELDS)
@pytest.mark.parametrize("raw", NOT_PLAIN_NUMBERS)
def test_numbers_must_be_plain_ascii_decimals(etype: str, field: str, raw: str) -> None:
    entry = dict(VALID[etype], **{field: raw})
    with pytest.raises(MalformedEvent, match=f"{field}=.* is not a number"):
        parse_entry(entry)
    if etype == "warden.position":
        assert fast_position(entry) is None


@pytest.mark.parametrize("raw,expected", [("41", 41.0), ("41.5", 41.5), ("-41.5", -41.5), ("+41.5", 41.5),
                                          ("0", 0.0), ("4.15e1", 41.5), ("41.120000", 41.12), ("1E1", 10.0),
                                          ("-0.0", 0.0), ("041.5", 41.5), (".5", 0.5)])
def test_plain_decimal_numbers_are_accepted(raw: str, expected: float) -> None:
    entry = dict(VALID["warden.position"], lat=raw)
    assert parse_entry(entry).data["lat"] == expected
    assert fast_position(entry) == ("w1", expected, 122.07, 1778285730.0)
    assert parse_entry(dict(VALID["case.reported"], lat=raw)).data["lat"] == expected


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
                                 "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00", "0001-01-02T12:00:00+14:00"])
def test_timestamps_at_the_ends_of_the_calendar_are_out_of_range(raw: str) -> None:
    with pytest.raises(MalformedEvent, match="out of range"):
        parse_ts(raw)
    for etype in ("case.closed", "warden.position"):
        with pytest.raises(MalformedEvent, match="out of range"):
            parse_entry(dict(VALID[etype], ts=raw))
    with pytest.raises(MalformedEvent, match="deadline=.* out of range"):
        parse_entry(dict(VALID["case.dispatched"], deadline=raw))
    assert fast_position(dict(VALID["warden.position"], ts=raw)) is None


@pytest.mark.parametrize("raw", ["20260509T081530+0800", "2026-W19-6T08:15:30+08:00", "2026-129T08:15:30+08:00",
                                 "2026-05-09x08:15:30+08:00", "2026-05-09T08:15:30 +08:00", "2026-05-09T08+08:00",
                                 "2026-05-09T08:15:30+08:00:30", "２０２６-05-09T08:15:30+08:00",
                                 " 2026-05-09T08:15:30+08:00", "2026-05-09T08:15:30+08:00 ",
                                 "2026-05-09T08:1５:30+08:00", "2026-05-09T24:00:00+08:00"])
def test_timestamps_must_be_iso_8601_extended_with_offset(raw: str) -> None:
    with pytest.raises(MalformedEvent, match="not an ISO 8601 timestamp"):
        parse_entry(dict(VALID["case.closed"], ts=raw))
    assert fast_position(dict(VALID["warden.position"], ts=raw)) is None


@pytest.mark.parametrize("raw", ["2026-05-09T08:15:30+08:00", "2026-05-09T00:15:30Z", "2026-05-09T08:15:30+0800",
                                 "2026-05-09T08:15:30+08", "2026-05-09 08:15:30+08:00",
                                 "2026-05-09T08:15:30.000+08:00", "2026-05-09T08:15:30,000+08:00"])
def test_contract_timestamps_are_accepted(raw: str) -> None:
    assert parse_entry(dict(VALID["case.closed"], ts=raw)).ts == 1778285730.0
    assert fast_position(dict(VALID["warden.position"], ts=raw)) == ("w1", 41.12, 122.07, 1778285730.0)


def test_calendar_end_timestamp_is_dead_lettered_with_a_validation_reason(redis_conn: redis.Redis) -> None:
    runtime = make_runtime(redis_conn)
    feed(redis_conn, runtime, [dict(VALID["case.reported"], ts="0001-01-01T00:00:00+23:59"),
                               dict(VALID["warden.position"], ts="9999-12-31T23:59:59-23:59")])
    runtime.consumer.stop()
    letters = redis_conn.xrange(runtime.config.deadletter_stream)
    assert len(letters) == 2
    for _, fields in letters:
        assert "out of range" in fields["error"] and "internal error" not in fields["error"]
