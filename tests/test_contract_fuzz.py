"""Property-based checks of the contract: the fast paths agree with the full parser, and no
string map makes ``parse_entry`` raise anything but MalformedEvent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_feed import contract
from data_feed.contract import EVENT_TYPES, fast_position, parse_entry, parse_ts
from data_feed.errors import MalformedEvent
from tests.events import VALID


def examples(n: int) -> settings:
    """``n`` examples, no deadline (the machine may be busy) and no example database in the tree."""
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


FIELDS = sorted({name for entry in VALID.values() for name in entry} | {"v", "event_id"})
"""Every field name the contract knows (and that the samples use)."""

TRICKY_NUMBERS = ["41.12", "-41.12", "+41.12", "0", "-0", "90", "90.0000001", "-180", "180.5", "1e-05", "1E2",
                  ".5", "5.", "-.5", "4.1e1", "41.", "４１.１", "4_1.1", " 41.1", "41.1 ", "\t41", "41\n", "٤١",
                  "nan", "NaN", "-nan", "inf", "-Infinity", "1e999", "-1e999", "0x29", "1_000", "", "--1", "+-1",
                  "1.2.3", "41,1", "1e", "e1", ".", "-", "+", "\u00a041", "4\u200b1"]

TRICKY_TIMES = ["2026-05-09T08:15:30+08:00", "2026-05-09T00:15:30Z", "2026-05-09 08:15:30+08:00",
                "2026-05-09T08:15:30+0800", "2026-05-09T08:15:30+08", "2026-05-09T08:15+08:00",
                "2026-05-09T08:15:30.5+08:00", "2026-05-09T08:15:30,5+08:00", "2026-05-09T08:15:30",
                "20260509T081530+0800", "2026-W19-6T08:15:30+08:00", "2026-05-09x08:15:30+08:00",
                "2026-05-09T08+08:00", "2026-05-09T08:15:30+08:00:30", "2026-05-09T08:15:30 +08:00",
                "２０２６-05-09T08:15:30+08:00", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
                "0001-01-03T00:00:00Z", "9999-12-28T23:59:59Z", "2026-02-30T00:00:00Z", "2026-05-09T24:00:00Z",
                "", "yesterday", "2026-05-09t08:15:30z"]


@st.composite
def numbers(draw: st.DrawFn) -> str:
    """Number strings: tricky fixed ones and formatted floats of every size."""
    value = draw(st.floats(allow_nan=True, allow_infinity=True))
    form = draw(st.sampled_from(["{!r}", "{:.6f}", "{:.0f}", "{:e}", "{:g}", " {} ", "{}"]))
    return draw(st.one_of(st.sampled_from(TRICKY_NUMBERS), st.just(form.format(value)),
                          st.text(alphabet="0123456789+-.eE_ ", max_size=8)))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """Timestamp strings: any instant in any whole-minute offset, in contract and non-contract forms."""
    naive = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    offset = draw(st.integers(-(24 * 60 - 1), 24 * 60 - 1))
    aware = naive.replace(tzinfo=timezone(timedelta(minutes=offset)))
    form = draw(st.sampled_from(["iso", "space", "naive", "z", "basic-offset", "week"]))
    text = {"iso": aware.isoformat(), "space": aware.isoformat(sep=" "), "naive": naive.isoformat(),
            "z": naive.isoformat() + "Z", "basic-offset": aware.isoformat()[:-3] + aware.isoformat()[-2:],
            "week": "{}-W{:02d}-{}T{}".format(*aware.isocalendar(), aware.isoformat()[11:])}[form]
    return draw(st.one_of(st.sampled_from(TRICKY_TIMES), st.just(text)))


def values_for(name: str) -> st.SearchStrategy[str]:
    """Plausible and hostile values for one field."""
    if name in ("lat", "lon", "accuracy_m", "speed_mps", "battery"):
        return numbers()
    if name in ("ts", "deadline"):
        return timestamps()
    return st.one_of(st.sampled_from(["", "ok", "problem", "true", "false", "1", "5", "hotline", "hazard",
                                      "department", "district", "w1", "K1"]), st.text(max_size=6))


@st.composite
def entries(draw: st.DrawFn, types: list[str] | None = None) -> dict[str, str]:
    """A valid sample of some type with a few fields replaced by generated values or removed."""
    etype = draw(st.sampled_from(types or sorted(EVENT_TYPES)))
    entry = dict(VALID[etype])
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            entry.pop(name, None)
        else:
            entry[name] = draw(values_for(name))
    return entry


def outcome(fn: Callable[[Mapping[str, str]], Any], fields: Mapping[str, str]) -> tuple[str, Any]:
    """("ok", result) or ("error", reason): two parsers agree when their outcomes are equal."""
    try:
        return "ok", fn(fields)
    except MalformedEvent as exc:
        return "error", str(exc)


@examples(2000)
@given(entries(["warden.position"]))
def test_fast_position_agrees_with_the_full_parser(fields: dict[str, str]) -> None:
    fast = fast_position(fields)
    kind, full = outcome(lambda f: parse_entry(f, "positions"), fields)
    if fast is not None:
        assert kind == "ok", full
        assert fast == (full.data["warden_id"], full.data["lat"], full.data["lon"], full.ts)
    elif kind == "ok" and fields.get("v", "1") == "1":
        raise AssertionError(f"a valid position missed the fast path: {fields!r}")


@examples(1000)
@given(entries(["warden.position"]))
def test_position_fast_branch_agrees_with_the_full_branch(fields: dict[str, str]) -> None:
    assert outcome(contract._position, fields) == outcome(contract._position_full, fields)


@examples(1000)
@given(entries(["inspection.completed"]))
def test_inspection_short_path_agrees_with_the_full_path(fields: dict[str, str]) -> None:
    assert outcome(contract._inspection, fields) == outcome(contract._inspection_full, fields)


@examples(1000)
@given(entries())
def test_parse_entry_time_fast_path_agrees_with_parse_ts(fields: dict[str, str]) -> None:
    kind, event = outcome(parse_entry, fields)
    if "ts" not in fields or not fields["ts"]:
        assert kind == "error"
        return
    ts_kind, ts = outcome(parse_ts, fields["ts"])  # type: ignore[arg-type]
    if kind == "ok":
        assert ts_kind == "ok" and event.ts == ts
    if ts_kind == "error":
        assert kind == "error"


PLAIN_NUMBER = st.floats(min_value=-89.9, max_value=89.9, allow_nan=False).map(lambda x: f"{x:.6f}")


@examples(500)
@given(lat=PLAIN_NUMBER, lon=PLAIN_NUMBER, when=st.datetimes(min_value=datetime(1970, 1, 1),
                                                             max_value=datetime(2100, 1, 1)))
def test_plainly_valid_positions_take_the_fast_path(lat: str, lon: str, when: datetime) -> None:
    fields = dict(VALID["warden.position"], lat=lat, lon=lon,
                  ts=when.replace(tzinfo=timezone(timedelta(hours=8))).isoformat())
    fast = fast_position(fields)
    event = parse_entry(fields, "positions")
    assert fast == ("w1", float(lat), float(lon), event.ts)


KEYS = st.one_of(st.sampled_from([*FIELDS, "orig.error", "type"]), st.text(max_size=10))


@examples(2000)
@given(fields=st.one_of(st.dictionaries(KEYS, st.text(max_size=40), max_size=12),
                        entries().flatmap(lambda e: st.dictionaries(KEYS, st.text(max_size=40), max_size=4)
                                          .map(lambda extra: {**e, **extra}))),
       kind=st.sampled_from([None, "positions", "events"]))
def test_parse_entry_raises_only_malformed_event(fields: dict[str, str], kind: str | None) -> None:
    try:
        event = parse_entry(fields, kind)
    except MalformedEvent as exc:
        assert str(exc)
    else:
        assert event.type in EVENT_TYPES and contract.TS_MIN <= event.ts < contract.TS_MAX
    fast_position(fields)  # never raises either
