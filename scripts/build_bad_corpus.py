"""Write the bad-input corpus under tests/data/bad/ (one incident folder per case).

The expected outcome of every case is written by hand in tests/data/bad/cases.toml; this
script only produces the files (several need exact bytes: encodings, BOMs, line endings,
binary content), so the corpus can be reviewed and rebuilt. Cases that need the file
system at test time (symlinks, a 200 000-character field, xlsx workbooks) are built by
tests/test_bad_inputs.py from their ``build`` key instead.

Usage: python scripts/build_bad_corpus.py
"""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tests" / "data" / "bad"

HEAD = """id = "{case}"
title = "Bad input: {case}"
timezone = "Europe/Brussels"
"""


def source(path: str, *, kind: str = "down_reports", columns: dict[str, str] | None = None, extra: str = "") -> str:
    text = f'\n[[sources]]\npath = "{path}"\nkind = "{kind}"\n{extra}'
    if columns:
        text += "[sources.columns]\n" + "".join(f'{k} = "{v}"\n' for k, v in columns.items())
    return text


def case(name: str, files: dict[str, bytes | str], toml_sources: str, *, head_extra: str = "") -> None:
    folder = ROOT / name
    folder.mkdir(parents=True, exist_ok=True)
    for fname, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / fname).parent.mkdir(parents=True, exist_ok=True)
        (folder / fname).write_bytes(data)
    (folder / "incident.toml").write_text(HEAD.format(case=name) + head_extra + toml_sources, encoding="utf-8")


STD = {"reported_at": "time", "place": "town", "text": "msg"}


def main() -> None:
    if ROOT.exists():
        for child in ROOT.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    ROOT.mkdir(parents=True, exist_ok=True)

    # 1. a Windows spreadsheet export: cp1252, semicolons, day-first dates, decimal commas
    rows = [
        "Heure;Commune;Latitude;Longitude;Message",
        "08/01/2018 20:15;Liège;50,6326;5,5797;plus de télé, écran noir",
        "08/01/2018 20:40;Namur;50,4669;4,8675;décodeur « HS »",
        "09/01/2018 07:05;Braine-l'Alleud;50,6836;4,3719;toujours rien à 7h",
        "08/01/2018 20:15;Liège;50,6326;5,5797;plus de télé, écran noir",
        "13/01/2018 09:00;Mons;;;répété — encore en panne",
    ]
    case(
        "cp1252_semicolons_day_first",
        {"export.csv": ("\r\n".join(rows) + "\r\n").encode("cp1252")},
        source(
            "export.csv",
            columns={"reported_at": "Heure", "place": "Commune", "lat": "Latitude", "lon": "Longitude", "text": "Message"},
        ),
    )

    # 2. UTF-8 with a BOM (the header's first name must still match)
    case(
        "utf8_bom",
        {
            "r.csv": codecs.BOM_UTF8
            + "time,town,msg\n2018-01-08 20:05,Liège,plus de télé\n2018-01-08 20:06,Gent,geen tv\n".encode()
        },
        source("r.csv", columns=STD),
    )

    # 3. UTF-16 with a BOM, tab-separated (Excel's "Unicode text")
    text = "time\ttown\tmsg\r\n2018-01-08 20:05\tLiège\tplus de télé\r\n2018-01-08 21:10\tOstende\tgeen beeld\r\n"
    case("utf16_bom_tabs", {"r.txt": text.encode("utf-16")}, source("r.txt", columns=STD))

    # 4. UTF-16 little-endian without a BOM
    case(
        "utf16_no_bom",
        {"r.csv": "time;town\n2018-01-08 20:05;Liège\n".encode("utf-16-le")},
        source("r.csv", columns={"reported_at": "time", "place": "town"}),
    )

    # 5. quoted messages spanning lines, with delimiters and doubled quotes inside
    text = (
        "time,town,msg\n"
        '2018-01-08 20:05,Liège,"line one\nline two, with a comma"\n'
        '2018-01-08 20:06,Namur,"he said ""still down""\r\nthen left"\n'
        "2018-01-08 20:07,Gent,plain\n"
    )
    case("quoted_multiline", {"r.csv": text}, source("r.csv", columns=STD))

    # 6. timestamps with and without offsets in one column
    text = (
        "time,town\n"
        "2018-01-08T20:05:00+01:00,Liège\n"
        "2018-01-08 20:05,Namur\n"
        "2018-01-08T19:05:00Z,Gent\n"
        "2018-01-08 20:05 +0100,Mons\n"
        "2018-01-08 19:05 UTC,Arlon\n"
        "2018-01-08T22:05:00+03:00,Wavre\n"
    )
    case("mixed_offsets", {"r.csv": text}, source("r.csv", columns={"reported_at": "time", "place": "town"}))

    # 7. the night the clocks jump forward (25 March 2018, 02:00 → 03:00)
    text = "time,town\n2018-03-25 01:59,Liège\n2018-03-25 02:00,Namur\n2018-03-25 02:30,Gent\n2018-03-25 03:00,Mons\n"
    case("dst_spring_forward", {"r.csv": text}, source("r.csv", columns={"reported_at": "time", "place": "town"}))

    # 8-9. the night the clocks go back (28 October 2018, 03:00 → 02:00), both policies
    text = "time,town\n2018-10-28 01:59,Liège\n2018-10-28 02:30,Namur\n2018-10-28 03:00,Gent\n"
    case("dst_autumn_earliest", {"r.csv": text}, source("r.csv", columns={"reported_at": "time", "place": "town"}))
    case(
        "dst_autumn_reject",
        {"r.csv": text},
        source("r.csv", columns={"reported_at": "time", "place": "town"}, extra='ambiguous = "reject"\n'),
    )

    # 10. exact duplicates, near-duplicates and a reused id, under dedupe = "exact" (a feed
    # known to double-post), then the same file under the default identity rule
    text = (
        "id,time,town,msg\n"
        "a,2018-01-08 20:05,Liège,down\n"
        "b,2018-01-08 20:06,Namur,down\n"
        "a,2018-01-08 20:05,Liège,down\n"
        "a,2018-01-08 20:05,Liège,down \n"
        "b,2018-01-08 20:06,Namur,down\n"
        "a,2018-01-08 20:05,Liège,down\n"
        "c,2018-01-08 20:07,Gent,x\n"
        "c,2018-01-08 20:08,Gent,y\n"
    )
    case("exact_duplicates", {"r.csv": text}, source("r.csv", columns={"report_id": "id", **STD}, extra='dedupe = "exact"\n'))
    case("repeated_report_ids", {"r.csv": text}, source("r.csv", columns={"report_id": "id", **STD}))

    # 10b. identical crowd rows without an id are separate reports; a user repeating the same
    # time is a double post (the same instant written another way too), later a new report
    text = (
        "user,time,town,msg\n"
        "u1,2018-01-08 20:05,Liège,down\n"
        ",2018-01-08 20:05,Liège,down\n"
        ",2018-01-08 20:05,Liège,down\n"
        "u1,2018-01-08 20:05,Liège,down\n"
        "u1,2018-01-08T20:05:00+01:00,Liège,down again\n"
        "u1,2018-01-08 20:45,Liège,still down\n"
        "u2,2018-01-08 20:05,Liège,down\n"
        "u2,not a time,Liège,down\n"
        "u2,not a time,Liège,down\n"
    )
    case("user_double_posts", {"r.csv": text}, source("r.csv", columns={"user_id": "user", **STD}))

    # 11. empty places: kept, with no place
    text = 'time,town,postcode\n2018-01-08 20:05,,\n2018-01-08 20:06,"",\n2018-01-08 20:07,   ,4000\n'
    case(
        "empty_places",
        {"r.csv": text},
        source("r.csv", columns={"reported_at": "time", "place": "town", "postal_code": "postcode"}),
    )

    # 12. coordinates: in France (kept), out of range, unreadable, half given
    text = (
        "time,lat,lon,postcode\n"
        "2018-01-08 20:05,48.8566,2.3522,75001\n"
        "2018-01-08 20:06,95.0,4.4,\n"
        "2018-01-08 20:07,north,4.4,\n"
        "2018-01-08 20:08,50.85,,B-1000\n"
        "2018-01-08 20:09,50.8503,4.3517,1000 Bruxelles\n"
    )
    case(
        "coordinates",
        {"r.csv": text},
        source("r.csv", columns={"reported_at": "time", "lat": "lat", "lon": "lon", "postal_code": "postcode"}),
    )

    # 13. personal data and markup in free text, also in a rejected row
    text = (
        "time,town,msg,note\n"
        "2018-01-08 20:05,Liège,\"<script>alert('x')</script>TV down, call 0470 12 34 56\",ok\n"
        "2018-01-08 20:06,Namur,<b>still</b> down - write to jan.peeters@example.be,Maximilien de Perwez\n"
        '2018-01-08 20:07,Gent,"Groeten, Koen Peeters &lt;script&gt;evil()&lt;/script&gt;",+32 2 345 67 89\n'
        "yesterday,Mons,Sarah Dupont: 0498/76.54.32 sarah.dupont@example.com,<img src=x onerror=alert(1)>\n"
    )
    case("pii_and_markup", {"r.csv": text}, source("r.csv", columns={**STD, "note": "note"}))

    # 14. ragged rows: short ones padded, long ones rejected
    text = (
        "time,town,msg\n2018-01-08 20:05,Liège\n2018-01-08 20:06,Namur,down,extra\n2018-01-08 20:07\n2018-01-08 20:08,Gent,ok\n"
    )
    case("ragged_rows", {"r.csv": text}, source("r.csv", columns=STD))

    # 15. a header and nothing else
    case("header_only", {"r.csv": "time,town,msg\n"}, source("r.csv", columns=STD))

    # 16. a binary file named .csv
    case("binary_file", {"r.csv": bytes(range(256)) * 4}, source("r.csv", columns=STD))

    # 17. formats other than the suffix says
    zip_bytes = b"PK\x03\x04" + bytes(60)
    case("xlsx_named_csv", {"r.csv": zip_bytes}, source("r.csv", columns=STD))
    case(
        "csv_named_parquet",
        {"r.parquet": "time,town\n2018-01-08 20:05,Liège\n"},
        source("r.parquet", columns={"reported_at": "time"}),
    )
    case(
        "csv_named_jsonl", {"r.jsonl": "time,town\n2018-01-08 20:05,Liège\n"}, source("r.jsonl", columns={"reported_at": "time"})
    )
    case(
        "jsonl_named_csv",
        {"r.csv": '{"time": "2018-01-08 20:05", "town": "Liège"}\n{"time": "2018-01-08 20:06", "town": "Namur"}\n'},
        source("r.csv", columns={"reported_at": "time"}),
    )
    case("csv_named_xlsx", {"r.xlsx": "time,town\n2018-01-08 20:05,Liège\n"}, source("r.xlsx", columns={"reported_at": "time"}))

    # 18. a column mapped in incident.toml that the file does not have
    case(
        "mapped_column_absent",
        {"r.csv": "time,town\n2018-01-08 20:05,Liège\n"},
        source("r.csv", columns={**STD, "text": "message"}),
    )

    # 19. JSON Lines: good, broken, not an object, U+2028 inside a string, a BOM, a `_row` key
    lines = [
        json.dumps({"time": "2018-01-08 20:05", "town": "Liège", "msg": "down\u2028still", "_row": 99}, ensure_ascii=False),
        "{broken",
        "[1, 2]",
        "",
        json.dumps({"time": "2018-01-08 20:06", "town": "Namur", "msg": "ok"}),
        '"just a string"',
        json.dumps({"time": "2018-01-08 20:07", "town": "Gent", "lat": 51.05, "lon": 3.72, "extra": {"a": [1, 2]}}),
    ]
    case(
        "jsonl_mixed",
        {"r.jsonl": codecs.BOM_UTF8 + ("\n".join(lines) + "\n").encode()},
        source("r.jsonl", columns={**STD, "lat": "lat", "lon": "lon"}),
    )

    # 20. a quote that never closes
    text = 'time,town,msg\n2018-01-08 20:05,Liège,"oops\n2018-01-08 20:06,Namur,ok\n2018-01-08 20:07,Gent,fine\n'
    case("unclosed_quote", {"r.csv": text}, source("r.csv", columns=STD))

    # 21. old Mac line endings (CR only)
    case(
        "cr_line_endings",
        {"r.csv": b"time,town\r2018-01-08 20:05,Liege\r2018-01-08 20:06,Namur\r"},
        source("r.csv", columns={"reported_at": "time", "place": "town"}),
    )

    # 22. an empty file and a file of blank lines
    case("empty_file", {"r.csv": b""}, source("r.csv", columns=STD))
    case("blank_lines_only", {"r.csv": b"\n\n  \n"}, source("r.csv", columns=STD))

    # 23. blank lines between rows and at the end
    case(
        "blank_lines",
        {"r.csv": "time,town\n2018-01-08 20:05,Liège\n\n2018-01-08 20:06,Namur\n\n\n"},
        source("r.csv", columns={"reported_at": "time", "place": "town"}),
    )

    # 24. paths that leave the incident folder
    case("path_dotdot", {"r.csv": "time\n2018-01-08 20:05\n"}, source("sub/../../r.csv", columns={"reported_at": "time"}))
    case("path_absolute", {}, source("/etc/passwd", columns={"reported_at": "time"}))

    # 25. an unusable time_format
    case(
        "bad_time_format",
        {"r.csv": "time,town\n2018-01-08 20:05,Liège\n"},
        source("r.csv", columns={"reported_at": "time"}, extra='time_format = "%Y %H"\n'),
    )

    # 26. a month-first column (US export), with a value that contradicts it
    text = "time,town\n01/13/2018 10:00,Liège\n01/08/2018 20:15,Namur\n12/25/2018 08:00,Gent\n25/12/2018 08:00,Mons\n"
    case("month_first", {"r.csv": text}, source("r.csv", columns={"reported_at": "time", "place": "town"}))

    # 27. dates without a time of day, two-digit years, impossible years
    text = "time,town\n2018-01-09,Liège\n08/01/18 20:15,Namur\n0018-01-08 20:15,Gent\n31/02/2018 10:00,Mons\n"
    case("dates_and_years", {"r.csv": text}, source("r.csv", columns={"reported_at": "time", "place": "town"}))

    # 28. repeated and blank header names, a header named _row
    text = "time,town,town,,_row\n2018-01-08 20:05,Liège,Luik,x,7\n"
    case("odd_header", {"r.csv": text}, source("r.csv", columns={"reported_at": "time", "place": "town_2"}))

    # 29. Latin-1 bytes that are not cp1252 (0x81, 0x8d)
    case(
        "latin1_bytes",
        {"r.csv": b"time;town;msg\n2018-01-08 20:05;Li\xe8ge;a\x81b\x8dc\n"},
        source("r.csv", columns=STD),
    )

    # 30. restorations with bad flags, windows and times
    text = (
        "cust,at,ok,after,before\n"
        "c1,2018-01-08 21:00,true,,\n"
        "c2,2018-01-09 10:00,no,,\n"
        "c3,2018-01-08 22:00,maybe,,\n"
        "c4,,,2018-01-09 08:00,2018-01-09 06:00\n"
        "c5,soon,,2018-01-09 06:00,2018-01-09 08:00\n"
        "c6,,,,\n"
    )
    case(
        "restorations_bad",
        {"r.csv": text},
        source(
            "r.csv",
            kind="restorations",
            columns={
                "customer_id": "cust",
                "observed_at": "at",
                "restored": "ok",
                "restored_after": "after",
                "restored_before": "before",
            },
        ),
    )

    # 31. an online-fraction feed with percentages, gaps and impossible values
    text = (
        "ts,frac,online,total\n"
        "2018-01-08 20:00,95%,,\n"
        "2018-01-08 20:15,0.5,,\n"
        "2018-01-08 20:30,1.5,,\n"
        "2018-01-08 20:45,,800,1000\n"
        "2018-01-08 21:00,,900,\n"
        "2018-01-08 21:15,,-5,1000\n"
        "2018-01-08 21:30,,,\n"
        "2018-01-08 21:45,n/a,,\n"
    )
    case(
        "online_fraction_bad",
        {"r.csv": text},
        source(
            "r.csv",
            kind="online_fraction",
            columns={"observed_at": "ts", "online_fraction": "frac", "online": "online", "total": "total"},
        ),
    )

    # 32. status, service and url values to normalise or refuse
    text = (
        "time,status,service,url\n"
        "2018-01-08 20:05,En panne,Télé,https://example.org/a\n"
        "2018-01-08 20:06,weird,tv + internet,javascript:alert(1)\n"
        "2018-01-08 20:07,,decoder,\n"
    )
    case(
        "status_service_url",
        {"r.csv": text},
        source("r.csv", columns={"reported_at": "time", "status": "status", "service": "service", "url": "url"}),
    )

    # 33. a codec that is not a text encoding
    case(
        "encoding_not_text",
        {"r.csv": "time\n2018-01-08 20:05\n"},
        source("r.csv", columns={"reported_at": "time"}, extra='encoding = "rot_13"\n'),
    )

    # 34. an incident.toml that is not TOML
    case("toml_invalid", {"r.csv": "time\n2018-01-08 20:05\n"}, source("r.csv", columns={"reported_at": "time"}))
    (ROOT / "toml_invalid" / "incident.toml").write_text('id = "toml_invalid"\ntitle = """never closed\n', encoding="utf-8")

    # 34b. a duplicate policy that does not exist
    case(
        "dedupe_unknown",
        {"r.csv": "time\n2018-01-08 20:05\n"},
        source("r.csv", columns={"reported_at": "time"}, extra='dedupe = "rows"\n'),
    )

    # 35-40. built at test time (see tests/test_bad_inputs.py): a huge field, xlsx workbooks, symlinks
    case("huge_field", {}, source("r.csv", columns=STD))
    case("xlsx_workbook", {}, source("r.xlsx", columns={**STD, "postal_code": "postcode"}, extra='sheet = "Reports"\n'))
    case("xlsx_missing_sheet", {}, source("r.xlsx", columns=STD, extra='sheet = "Nope"\n'))
    case("symlink_outside", {}, source("link.csv", columns={"reported_at": "time"}))
    case("symlink_dir_outside", {}, source("linked/r.csv", columns={"reported_at": "time"}))
    case(
        "symlink_inside",
        {"data/r.csv": "time,town\n2018-01-08 20:05,Liège\n"},
        source("link.csv", columns={"reported_at": "time", "place": "town"}),
    )


if __name__ == "__main__":
    main()
