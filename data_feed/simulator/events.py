"""Contract v1 entries (flat maps of strings) built from the simulation's plans."""

from __future__ import annotations

from data_feed.simulator.cases import CasePlan
from data_feed.simulator.clock import IsoFormatter
from data_feed.simulator.geography import District


class EventBuilder:
    """Builds contract entries for one district and run (``tag``: seed and run), with deterministic event ids."""

    def __init__(self, district: District, tag: int | str) -> None:
        self.district = district
        self.prefix = f"sim-{tag}"
        self.iso = IsoFormatter()

    def registration(self, checkpoint: int, ts: int) -> dict[str, str]:
        """``checkpoint.registered`` for one checkpoint (its three fixes: point, person, unit)."""
        d = self.district
        cp = d.checkpoints[checkpoint]
        grid = d.grids[cp.grid]
        cat = d.categories[cp.category]
        return {"type": "checkpoint.registered", "ts": self.iso(ts),
                "event_id": f"{self.prefix}-reg-{cp.checkpoint_id}",
                "checkpoint_id": cp.checkpoint_id, "category": cat.category_id, "lat": f"{cp.lat:.6f}",
                "lon": f"{cp.lon:.6f}", "name": cp.name, "street_id": d.streets[grid.street].area_id,
                "community_id": d.communities[grid.community].area_id, "grid_id": grid.area_id,
                "warden_id": grid.warden_id, "department_id": cat.department_id}

    def inspection(self, ts: int, checkpoint: int, warden_id: str, round_index: int,
                   case_id: str = "") -> dict[str, str]:
        """``inspection.completed`` of one visit; ``case_id`` when the warden found a problem."""
        cp_id = self.district.checkpoints[checkpoint].checkpoint_id
        day = self.iso(ts)[:10].replace("-", "")
        event = {"type": "inspection.completed", "ts": self.iso(ts),
                 "event_id": f"{self.prefix}-insp-{cp_id}-{day}-{round_index}",
                 "checkpoint_id": cp_id, "warden_id": warden_id, "result": "problem" if case_id else "ok"}
        if case_id:
            event["case_id"] = case_id
        return event

    def reported(self, case: CasePlan) -> dict[str, str]:
        """``case.reported``: patrol cases carry their checkpoint and areas, citizen cases personal data."""
        d = self.district
        event = {"type": "case.reported", "ts": self.iso(case.ts), "event_id": f"{self.prefix}-{case.case_id}-0",
                 "case_id": case.case_id, "channel": case.channel,
                 "category": d.categories[case.category].category_id, "lat": f"{case.lat:.6f}",
                 "lon": f"{case.lon:.6f}", "priority": case.priority}
        if case.checkpoint >= 0:
            grid = d.grids[case.grid]
            event["checkpoint_id"] = d.checkpoints[case.checkpoint].checkpoint_id
            event["street_id"] = d.streets[grid.street].area_id
            event["community_id"] = d.communities[grid.community].area_id
            event["grid_id"] = grid.area_id
        if case.query_code:
            event["query_code"] = case.query_code
            event["description"] = case.description
            event["reporter_phone"] = case.phone
        return event

    def step(self, case: CasePlan, n: int) -> dict[str, str]:
        """The ``n``-th lifecycle event of a case (after its report)."""
        ts, etype, fields = case.steps[n]
        event = {"type": etype, "ts": self.iso(ts), "event_id": f"{self.prefix}-{case.case_id}-{n + 1}",
                 "case_id": case.case_id}
        for key, value in fields.items():
            event[key] = self.iso(int(value[1:])) if key == "deadline" else value
        return event

    def position(self, warden_id: str, ts: int, lat: float, lon: float, speed: float, battery: float,
                 accuracy: float) -> dict[str, str]:
        """``warden.position`` (no event id: positions are many and idempotent by nature)."""
        return {"type": "warden.position", "ts": self.iso(ts), "warden_id": warden_id, "lat": f"{lat:.6f}",
                "lon": f"{lon:.6f}", "accuracy_m": f"{accuracy:.0f}", "speed_mps": f"{speed:.2f}",
                "battery": f"{battery:.0f}"}
