"""The README's hand-publishing example names a checkpoint, category and position that belong together."""

from __future__ import annotations

import json
import re
from pathlib import Path

from data_feed.simulator import write_reference
from data_feed.simulator.presets import PRESETS
from data_feed.simulator.world import World

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_publish_example_is_a_real_checkpoint_of_the_demo_district(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    example = re.search(r"case_id DEMO-1 .*?checkpoint_id (\S+)", text, re.S)
    assert example, "the README's XADD example is missing"
    fields = dict(re.findall(r"\b(category|lat|lon|checkpoint_id) (\S+)", example.group(0)))
    write_reference(tmp_path, "district", 1)  # what `demo` (preset district, seed 1) serves
    categories = json.loads((tmp_path / "categories.json").read_text(encoding="utf-8"))
    district = World(PRESETS["district"], 1).district
    cp = next(c for c in district.checkpoints if c.checkpoint_id == fields["checkpoint_id"])
    assert categories[cp.category]["category_id"] == fields["category"]
    assert abs(cp.lat - float(fields["lat"])) < 1e-6 and abs(cp.lon - float(fields["lon"])) < 1e-6
