"""The shipped UN number table: it loads, known entries are right, every row is
well-formed, and the loader refuses malformed rows."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from icvcloud.hazmat.un_numbers import COLUMNS, UnTable, normalise_un, un_table


def test_known_entries() -> None:
    t = un_table()
    expect = {
        "1203": ("3", ("II",), "汽油"), "1202": ("3", ("III",), "柴油"), "1075": ("2.1", (), "液化石油气"),
        "1017": ("2.3", (), "氯"), "1005": ("2.3", (), "无水氨"), "1230": ("3", ("II",), "甲醇"),
        "1114": ("3", ("II",), "苯"), "2055": ("3", ("III",), "苯乙烯（稳定的）"), "1077": ("2.1", (), "丙烯"),
        "1049": ("2.1", (), "压缩氢"), "1072": ("2.2", (), "压缩氧"), "1066": ("2.2", (), "压缩氮"),
        "1350": ("4.1", ("III",), "硫磺"), "1830": ("8", ("II",), "硫酸"), "1789": ("8", ("II", "III"), "盐酸"),
        "1824": ("8", ("II", "III"), "氢氧化钠溶液"), "1972": ("2.1", (), "液化天然气"),
    }
    for un, (cls, pgs, zh) in expect.items():
        e = t.get(un)
        assert e is not None, un
        assert (e.hazard_class, e.packing_groups, e.name_zh) == (cls, pgs, zh), un
    chlorine = t.get("UN1017")
    assert chlorine is not None and chlorine.subsidiary_hazards == ("5.1", "8")
    assert t.get("UN 1230") is t.get("1230") and t.get("0000") is None


def test_every_row_is_well_formed() -> None:
    text = resources.files("icvcloud").joinpath("data/un_numbers.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    t = un_table()
    assert len(rows) == len(t) >= 300
    assert [r["un_number"] for r in rows] == sorted(r["un_number"] for r in rows)
    for r in rows:
        assert set(r) == set(COLUMNS) and None not in r.values(), r
        assert r["name_en"] == r["name_en"].strip() and r["name_en"], r
    for e in t.entries:
        main = e.hazard_class.split(".")[0]
        if main in ("2", "7") or e.hazard_class.startswith("1."):
            assert e.packing_groups == (), e  # gases, radioactive material, explosives: no packing group
        assert e.hazard_class not in e.subsidiary_hazards, e


def test_search() -> None:
    t = un_table()
    assert [e.un_number for e in t.search("UN120", 3)] == ["1201", "1202", "1203"]
    assert "1230" in {e.un_number for e in t.search("methanol")}
    assert "1230" in {e.un_number for e in t.search("甲醇")}
    assert t.search("no such goods") == []
    assert normalise_un(" un1203 ") == "1203"


@pytest.mark.parametrize(("row", "error"), [
    ("123,3,,II,Name,", "not four digits"),
    ("1234,10,,II,Name,", "not a class"),
    ("1234,6,,II,Name,", "not a class"),
    ("1234,3,x,II,Name,", "subsidiary"),
    ("1234,3,,IV,Name,", "packing groups"),
    ("1234,3,,II II,Name,", "packing groups"),
    ("1234,3,,II,,", "no name"),
])
def test_malformed_rows_are_refused(row: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        UnTable.from_csv(",".join(COLUMNS) + "\n" + row + "\n")


def test_duplicates_and_columns_are_refused() -> None:
    head = ",".join(COLUMNS)
    with pytest.raises(ValueError, match="twice"):
        UnTable.from_csv(f"{head}\n1203,3,,II,Petrol,\n1203,3,,II,Petrol,\n")
    with pytest.raises(ValueError, match="columns"):
        UnTable.from_csv("un,class\n1203,3\n")
