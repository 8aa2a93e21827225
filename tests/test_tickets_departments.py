"""The department directory: the shipped CSV (1,553 units) and the errors a bad list gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickets.departments import Department, DepartmentError, build, load, read_csv
from tickets.settings import DepartmentConfig, Names, TicketsConfig

CSV = Path(__file__).resolve().parents[1] / "config" / "departments.csv"


def test_shipped_csv() -> None:
    d = build(read_csv(CSV))
    assert len(d) == 1553
    assert d.count_by_group() == {"county": 15, "city_department": 66, "public_service": 15,
                                  "county_department": 300, "township": 1157}
    assert d.ancestors("xihu.gaj") == ["xihu"]
    assert "xihu.gaj" in d.subtree("xihu") and "gongshu.gaj" not in d.subtree("xihu")


def test_inline_and_csv_together(tmp_path: Path) -> None:
    cfg = TicketsConfig(departments=[DepartmentConfig(code="hotline", name=Names(zh="热线办", en="Hotline office"),
                                                      group="other")], departments_csv="deps.csv")
    (tmp_path / "deps.csv").write_text("code,name_zh,name_en,group,parent\nhotline.a,甲,,other,hotline\n",
                                       encoding="utf-8")
    d = load(cfg, tmp_path)
    assert d.get("hotline.a").name("en") == "甲" and d.ancestors("hotline.a") == ["hotline"]


@pytest.mark.parametrize(("rows", "message"), [
    ([("a", "x", "county", None), ("a", "y", "county", None)], "duplicate code 'a'"),
    ([("a", "x", "county", "b")], "parent 'b'"),
    ([("a", "x", "planet", None)], "group 'planet'"),
    ([("a", "x", "county", "b"), ("b", "y", "county", "a")], "its own ancestor"),
])
def test_bad_lists(rows: list[tuple[str, str, str, str | None]], message: str) -> None:
    with pytest.raises(DepartmentError, match=message):
        build((f"row {i}", Department(c, n, n, g, p)) for i, (c, n, g, p) in enumerate(rows))


def test_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\nx,y\n", encoding="utf-8")
    with pytest.raises(DepartmentError, match="missing columns"):
        list(read_csv(bad))
