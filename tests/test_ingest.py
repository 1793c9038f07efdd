from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from analysis.config import load_incident
from analysis.errors import IngestError
from analysis.ingest import REPORT_COLUMNS, ingest_incident, ingest_to_processed, write_processed
from analysis.sources import detect_delimiter, detect_encoding

MAP = """\
[sources.columns]
reported_at = "time"
place = "town"
text = "msg"
"""
CSV_ROWS = [
    ("2018-01-08 20:05", "Liège", "plus de télé"),
    ("2018-01-08 20:10", "Namur", "écran noir"),
    ("2018-01-08 21:00", "Gent", "storing"),
]


def csv_bytes(delim: str, encoding: str, *, bom: bool = False) -> bytes:
    lines = [delim.join(("time", "town", "msg"))] + [delim.join(r) for r in CSV_ROWS]
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + data


def ingest(folder: Path) -> object:
    return ingest_incident(load_incident(folder), geocode=False)


@pytest.mark.parametrize(
    ("delim", "encoding", "bom"), [(",", "utf-8", False), (";", "utf-8", True), ("\t", "cp1252", False), (";", "cp1252", False)]
)
def test_csv_encodings_and_delimiters_are_detected(
    make_incident: Callable[..., Path], delim: str, encoding: str, bom: bool
) -> None:
    folder = make_incident(csv_bytes(delim, encoding, bom=bom), source_extra=MAP)
    r = ingest(folder)
    assert r.reports["place_raw"].to_list() == ["Liège", "Namur", "Gent"]
    assert r.reports["text"].to_list()[:2] == ["plus de télé", "écran noir"]
    assert r.sources[0].delimiter == delim
    assert r.n_raw == 3
    assert r.n_rejected == 0


def test_detectors_directly() -> None:
    assert detect_encoding("é".encode("cp1252")) == "cp1252"
    assert detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert detect_encoding("é".encode()) == "utf-8"
    assert detect_delimiter('a,b,c\n"x;y;z",2,3\n') == ","
    assert detect_delimiter("a;b\n1;2\n") == ";"


def test_parquet_and_jsonl_sources(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    frame = pl.DataFrame({"time": [r[0] for r in CSV_ROWS], "town": [r[1] for r in CSV_ROWS], "msg": [r[2] for r in CSV_ROWS]})
    buf = tmp_path / "x.parquet"
    frame.write_parquet(buf)
    folder = make_incident(buf.read_bytes(), name="r.parquet", source_extra=MAP, incident_id="pq")
    assert ingest(folder).reports.height == 3
    lines = "\n".join(json.dumps({"time": a, "town": b, "msg": c}) for a, b, c in CSV_ROWS) + "\n{broken\n[1,2]\n\n"
    folder = make_incident(lines, name="r.jsonl", source_extra=MAP, incident_id="js")
    r = ingest(folder)
    assert r.reports.height == 3
    assert r.rejects["row"].to_list() == [4, 5]
    assert "invalid JSON" in r.rejects["reason"][0]
    assert "not an object" in r.rejects["reason"][1]
    assert r.n_raw == 5


def test_parquet_with_real_datetimes(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    frame = pl.DataFrame({"time": [dt.datetime(2018, 1, 8, 19, 5, tzinfo=dt.UTC)], "town": ["Liège"]})
    path = tmp_path / "y.parquet"
    frame.write_parquet(path)
    folder = make_incident(
        path.read_bytes(),
        name="r.parquet",
        source_extra='[sources.columns]\nreported_at = "time"\nplace = "town"\n',
        incident_id="pq2",
    )
    assert ingest(folder).reports["reported_at"].to_list() == [dt.datetime(2018, 1, 8, 19, 5, tzinfo=dt.UTC)]


def test_rejects_reconcile_and_say_why(make_incident: Callable[..., Path]) -> None:
    content = (
        "time,town,msg,lat,lon,count\n"
        "2018-01-08 20:05,Liège,a,50.6,5.5,\n"
        "2018-01-08 20:05,Liège,a,50.6,5.5,\n"  # identical: another customer, kept
        "2018-03-25 02:30,Gent,b,,,\n"  # DST gap
        ",Namur,c,,,\n"  # missing time
        "yesterday,Namur,d,,,\n"  # unreadable
        "2018-01-08 21:00,Namur,e,95,4,\n"  # bad coordinates: kept with a warning
        "2018-01-08 21:00,Namur,f,,,-3\n"  # bad count
        "2018-01-08 21:00,Namur,g,,,,extra\n"  # too many fields
    )
    r = ingest(make_incident(content, source_extra=MAP))
    reasons = dict(zip(r.rejects["row"].to_list(), r.rejects["reason"].to_list(), strict=True))
    assert 3 not in reasons
    assert r.sources[0].n_identical == r.sources[0].n_identical_kept == 1
    assert "does not exist" in reasons[4]
    assert reasons[5] == "missing time"
    assert "unreadable" in reasons[6]
    assert "count must be a positive whole number" in reasons[8]
    assert "fields" in reasons[9]
    assert r.n_raw == 8 == r.reports.height + r.rejects.height
    assert r.rejects.height == 5
    kept = r.reports.filter(pl.col("source_row") == 7)
    assert kept["lat"].to_list() == [None]
    assert "out of range" in kept["issues"][0]
    assert set(r.rejects.columns) == {"source", "row", "column", "reason", "raw", "file"}
    assert r.rejects["file"].unique().to_list() == ["reports.csv"]  # the file the row is in
    assert json.loads(r.rejects.filter(pl.col("row") == 5)["raw"][0])["town"] == "Namur"


def test_time_windows_and_date_time_columns(make_incident: Callable[..., Path]) -> None:
    content = (
        "id,at,from,until,town\n"
        "a,,2018-01-09 06:00,2018-01-09 12:00,Durbuy\n"
        "b,2018-01-09 02:57,,,Dilbeek\n"
        "c,,2018-01-09 12:00,2018-01-09 06:00,Ans\n"
        "d,,,2018-01-09 12:00,Ans\n"
    )
    extra = '[sources.columns]\nreport_id = "id"\nreported_at = "at"\nreported_from = "from"\nreported_until = "until"\nplace = "town"\n'
    r = ingest(make_incident(content, source_extra=extra))
    rep = r.reports.sort("report_id")
    assert rep["report_id"].to_list() == ["reports:a", "reports:b"]
    assert rep["reported_at"][0] == dt.datetime(2018, 1, 9, 5, tzinfo=dt.UTC)
    assert rep["reported_until"][0] == dt.datetime(2018, 1, 9, 11, tzinfo=dt.UTC)
    assert rep["reported_until"][1] is None
    assert sorted(r.rejects["reason"].to_list()) == ["time window ends before it starts", "time window has an end but no start"]


def test_date_and_time_in_separate_columns(make_incident: Callable[..., Path]) -> None:
    content = "day;hour;town\n08/01/2018;20:15;Liège\n"
    extra = '[sources.columns]\ndate = "day"\ntime = "hour"\nplace = "town"\n'
    r = ingest(make_incident(content, source_extra=extra))
    assert r.reports["reported_at"].to_list() == [dt.datetime(2018, 1, 8, 19, 15, tzinfo=dt.UTC)]


def test_missing_mapped_column_is_a_clear_error(make_incident: Callable[..., Path]) -> None:
    folder = make_incident("when,town\n2018-01-08 20:00,Liège\n", source_extra=MAP)
    with pytest.raises(IngestError, match=r"column 'time' \(mapped to 'reported_at'"):
        ingest(folder)


def test_no_time_column_and_empty_file(make_incident: Callable[..., Path]) -> None:
    with pytest.raises(IngestError, match="no time column"):
        ingest(make_incident("town\nLiège\n"))
    with pytest.raises(IngestError, match="empty"):
        ingest(make_incident("", incident_id="empty"))


def test_pii_never_reaches_processed_files(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    content = (
        "time,town,msg\n"
        "2018-01-08 20:05,Liège,Maximilien: call me at 0470 12 34 56 or max@example.be\n"
        "2018-01-08 20:05,Liège,Maximilien: call me at 0470 12 34 56 or max@example.be\n"
        "bad,Liège,Sarah sarah@example.be\n"
    )
    folder = make_incident(content, source_extra=MAP)
    _, paths = ingest_to_processed(load_incident(folder), root=tmp_path / "processed", geocode=False)
    blob = b"".join(p.read_bytes() for p in paths.values())
    for secret in (b"0470", b"example.be", b"Maximilien", b"Sarah"):
        assert secret not in blob
    reports = pl.read_parquet(paths["reports"])
    assert list(reports.columns[: len(REPORT_COLUMNS)]) == list(REPORT_COLUMNS)
    assert reports["reported_at"].dtype == pl.Datetime("us", "UTC")


def test_restorations_and_online_fraction_sources(make_incident: Callable[..., Path]) -> None:
    content = "cust,at,ok\nc1,2018-01-08 21:00,true\nc2,2018-01-09 10:00,false\nc3,2018-01-08 22:00,maybe\n"
    extra = '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\nrestored = "ok"\n'
    r = ingest(make_incident(content, kind="restorations", source_extra=extra, incident_id="rest"))
    assert r.restorations["restored"].to_list() == [True, False]
    assert "restored must be true or false" in r.rejects["reason"][0]
    content = "ts,out,total\n2024-07-08 19:15:00,1660703,1827686\n2024-07-08 19:30:00,x,1827686\n2024-07-08 19:45:00,-5,1827686\n"
    extra = 'timezone = "UTC"\n[sources.columns]\nobserved_at = "ts"\nout = "out"\ntotal = "total"\n'
    r = ingest(make_incident(content, kind="online_fraction", source_extra=extra, incident_id="online"))
    assert r.online.height == 1
    assert r.online["online_fraction"][0] == pytest.approx(1 - 1660703 / 1827686)
    assert r.n_raw == 3
    assert r.n_rejected == 2


def test_default_incident_ingests_every_row() -> None:
    from .conftest import DEFAULT_INCIDENT

    r = ingest(DEFAULT_INCIDENT)
    assert r.n_rejected == 0
    assert r.reports.height == r.n_raw > 50
    assert r.reports["report_id"].n_unique() == r.reports.height


def test_clean_csv_takes_the_vectorised_path(make_incident: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import analysis.privacy
    import analysis.sources.csv

    def no_slow_path(*args: object, **kwargs: object) -> None:
        raise AssertionError("a clean file must not be read row by row")

    scrubbed: list[str] = []
    real = analysis.privacy.scrub_text

    def counting(text: str | None) -> str | None:
        scrubbed.append(text or "")
        return real(text)

    monkeypatch.setattr(analysis.sources.csv, "_read_csv_slow", no_slow_path)
    monkeypatch.setattr(analysis.privacy, "scrub_text", counting)
    rows = "".join(
        f"2018-01-08 {20 + i // 3600}:{i // 60 % 60:02d}:{i % 60:02d},Liège,écran noir numéro {i % 7}\n" for i in range(5000)
    )
    r = ingest(make_incident("time,town,msg\n" + rows + "2018-01-08 21:00,Namur,appelez le 0470 12 34 56\n", source_extra=MAP))
    assert r.reports.height == 5001
    assert scrubbed == ["appelez le 0470 12 34 56"]  # only the one value that can hold personal data


def test_report_ids_stay_unique_when_a_file_id_looks_like_a_suffix(make_incident: Callable[..., Path]) -> None:
    content = "id,time\na,2018-01-08 20:05\na#2,2018-01-08 20:06\na,2018-01-08 20:07\n5,2018-01-08 20:08\n,2018-01-08 20:09\n"
    extra = 'dedupe = "none"\n[sources.columns]\nreport_id = "id"\nreported_at = "time"\n'
    r = ingest(make_incident(content, source_extra=extra))
    ids = r.reports.sort("source_row")["report_id"].to_list()
    assert len(set(ids)) == 5
    assert ids[:2] == ["reports:a", "reports:a#2"]
    assert ids[2].startswith("reports:a#")  # 'a' again: kept under dedupe = "none", its id made unique
    assert r.rejects.height == 0


def test_duplicates_in_typed_parquet_columns(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "time": [dt.datetime(2018, 1, 8, 19, 5, tzinfo=dt.UTC)] * 3,
            "lat": [50.6, 50.6, 50.7],
            "lon": [4.4, 4.4, 4.4],
            "_row": [1, 1, 1],  # a column named like the reader's own
        }
    )
    path = tmp_path / "t.parquet"
    frame.write_parquet(path)
    mapping = '[sources.columns]\nreported_at = "time"\n'
    r = ingest(make_incident(path.read_bytes(), name="r.parquet", source_extra=mapping, incident_id="pq3"))
    assert r.rejects.height == 0  # identical rows are separate reports by default
    assert (r.sources[0].n_identical, r.sources[0].n_identical_kept, r.sources[0].dedupe) == (1, 1, "identity")
    folder = make_incident(
        path.read_bytes(), name="r.parquet", source_extra='dedupe = "exact"\n' + mapping, incident_id="pq3-exact"
    )
    r = ingest(folder)
    assert r.rejects.select("row", "reason").rows() == [(2, "duplicate of row 1")]
    assert r.reports.sort("source_row")["lat"].to_list() == [50.6, 50.7]
    assert (r.sources[0].n_identical, r.sources[0].n_identical_kept, r.sources[0].n_duplicates) == (1, 0, 1)


def test_identical_rows_are_separate_reports_unless_the_source_says_exact(
    make_incident: Callable[..., Path], tmp_path: Path
) -> None:
    # five customers of one town in the same minute, and two of another: seven reports
    content = "time,town,msg\n" + "2018-01-08 20:05,Liège,plus de télé\n" * 5 + "2018-01-08 20:06,Namur,x\n" * 2
    r = ingest(make_incident(content, source_extra=MAP))
    s = r.sources[0]
    assert (r.reports.height, r.rejects.height) == (7, 0)
    assert s.n_raw == s.n_accepted + s.n_rejected == 7
    assert (s.dedupe, s.n_identical, s.n_identical_kept, s.n_duplicates) == ("identity", 5, 5, 0)
    summary = json.loads(write_processed(r, tmp_path / "p1")["ingest"].read_text(encoding="utf-8"))
    assert summary["sources"][0] | {"n_identical": 5, "dedupe": "identity"} == summary["sources"][0]

    r = ingest(make_incident(content, source_extra='dedupe = "exact"\n' + MAP, incident_id="exact"))
    s = r.sources[0]
    assert (r.reports.height, r.rejects.height) == (2, 5)
    want = [(row, "duplicate of row 2") for row in (3, 4, 5, 6)] + [(8, "duplicate of row 7")]
    assert r.rejects.select("row", "reason").rows() == want
    assert (s.dedupe, s.n_identical, s.n_identical_kept, s.n_duplicates) == ("exact", 5, 0, 5)


def test_a_repeated_report_id_is_rejected_naming_the_first_row(make_incident: Callable[..., Path]) -> None:
    content = (
        "id,time,town\n"
        "r1,2018-01-08 20:05,Liège\n"
        "r2,2018-01-08 20:05,Liège\n"  # same content, another id: another report
        " r1 ,2018-01-08 20:30,Namur\n"  # the same id (blanks aside), another content: the same report
        ",2018-01-08 20:05,Liège\n"  # no id: no identity
        ",2018-01-08 20:05,Liège\n"
        "r2,not a time,Gent\n"
    )
    r = ingest(make_incident(content, source_extra='[sources.columns]\nreport_id = "id"\nreported_at = "time"\nplace = "town"\n'))
    assert r.rejects.select("row", "column", "reason").rows() == [
        (4, "id", "duplicate of row 2 (same report_id)"),
        (7, "id", "duplicate of row 3 (same report_id)"),
    ]
    assert r.reports.sort("source_row")["report_id"].to_list() == ["reports:r1", "reports:r2", "reports:5", "reports:6"]
    s = r.sources[0]
    assert s.n_raw == s.n_accepted + s.n_rejected == 6
    assert (s.n_identical, s.n_identical_kept, s.n_duplicates) == (1, 1, 2)


def test_the_same_user_or_device_at_the_same_time_is_a_double_post(make_incident: Callable[..., Path]) -> None:
    content = (
        "user,box,time,town,msg\n"
        "u1,,2018-01-08 20:05,Liège,plus de télé\n"
        "u1,,2018-01-08 20:05:00,Liège,plus de télé !\n"  # same user, same instant: a double post
        "u1,,2018-01-08 21:40,Liège,toujours rien\n"  # same user later: still without service
        "u2,,2018-01-08 20:05,Liège,plus de télé\n"  # another user at the same time
        ",d9,2018-01-08 20:05,Liège,plus de télé\n"
        ",d9,2018-01-08 20:05,Liège,plus de télé\n"  # same device, same time
        ",d9,2018-01-08 20:06,Liège,plus de télé\n"
        "u3,,08/01/2018,Namur,all day\n"  # a window (the whole day)
        "u3,,08/01/2018,Namur,all day again\n"  # the same window: a double post
    )
    mapping = '[sources.columns]\nuser_id = "user"\ndevice_id = "box"\nreported_at = "time"\nplace = "town"\ntext = "msg"\n'
    r = ingest(make_incident(content, source_extra=mapping))
    assert r.rejects.select("row", "column", "reason").rows() == [
        (3, "user", "duplicate of row 2 (same user_id and time)"),
        (7, "box", "duplicate of row 6 (same device_id and time)"),
        (10, "user", "duplicate of row 9 (same user_id and time)"),
    ]
    assert r.reports.height == 6 and r.sources[0].n_duplicates == 3
    # under dedupe = "none" every row is a report
    r = ingest(make_incident(content, source_extra='dedupe = "none"\n' + mapping, incident_id="none"))
    assert (r.reports.height, r.rejects.height, r.sources[0].n_identical_kept) == (9, 0, 1)


def test_a_rejected_row_does_not_claim_its_report_id(make_incident: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # an export with a blank line carrying only an id, before the real report with that id:
    # the blank row is rejected for its time, and the real report is kept, not called its duplicate
    rows = [
        "id,time,town",
        "r1,,",
        "r2,2018-01-08 20:05,Liège",
        "r1,2018-01-08 20:10,Namur",
        "r2,garbage,Gent",
        "r1,2018-01-08 20:20,Mons",
    ]
    mapping = '[sources.columns]\nreport_id = "id"\nreported_at = "time"\nplace = "town"\n'
    whole, batched, n = _ingest_both(make_incident("\n".join(rows) + "\n", source_extra=mapping), monkeypatch, batch_rows=2)
    assert n >= 3
    _same(whole, batched)
    assert whole.rejects.select("row", "reason").rows() == [  # type: ignore[attr-defined]
        (2, "missing time"),
        (5, "duplicate of row 3 (same report_id)"),  # an unusable row repeating a kept id: still a duplicate
        (6, "duplicate of row 4 (same report_id)"),
    ]
    assert sorted(whole.reports["source_row"].to_list()) == [3, 4]  # type: ignore[attr-defined]
    s = whole.sources[0]  # type: ignore[attr-defined]
    assert s.n_raw == s.n_accepted + s.n_rejected == 5


def test_identity_duplicates_across_batches(make_incident: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    rows = ["id,user,time,town"]
    rows += [f"r{i},u{i % 3},2018-01-08 20:{i:02d},Liège" for i in range(9)]  # rows 2-10
    rows += [
        "r1,u7,2018-01-08 21:00,Gent",  # row 11: report r1 (row 3) again, batches later
        ",u2,2018-01-08 20:02,Liège",  # row 12: user u2 at 20:02 (row 4) again
        ",u2,2018-01-08 21:02,Liège",  # row 13: user u2 later: a new report
        ",u5,2018-01-08 20:05,Liège",  # row 14: identical to row 15, no report id
        ",u5,2018-01-08 20:05,Liège",  # row 15: same user, same time
    ]
    mapping = '[sources.columns]\nreport_id = "id"\nuser_id = "user"\nreported_at = "time"\nplace = "town"\n'
    whole, batched, n = _ingest_both(make_incident("\n".join(rows) + "\n", source_extra=mapping), monkeypatch, batch_rows=2)
    assert n >= 7
    _same(whole, batched)
    assert batched.rejects.select("row", "reason").rows() == [
        (11, "duplicate of row 3 (same report_id)"),
        (12, "duplicate of row 4 (same user_id and time)"),
        (15, "duplicate of row 14 (same user_id and time)"),
    ]
    s = batched.sources[0]
    assert (s.n_identical, s.n_identical_kept, s.n_duplicates) == (1, 0, 3)


def test_restorations_dedupe_by_customer_and_time_and_online_points_exactly(make_incident: Callable[..., Path]) -> None:
    content = (
        "cust,at,restored,postcode\n"
        "c1,2018-01-08 21:00,false,4000\n"
        "c1,2018-01-08 21:00,false,4000\n"  # the same customer's observation posted twice
        "c1,2018-01-08 23:00,true,4000\n"  # the same customer later: restored
        ",2018-01-08 22:00,true,5000\n"
        ",2018-01-08 22:00,true,5000\n"  # two decoders of one postal code, no id: two records
    )
    extra = '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\nrestored = "restored"\npostal_code = "postcode"\n'
    r = ingest(make_incident(content, kind="restorations", source_extra=extra, incident_id="rest3"))
    assert r.rejects.select("row", "column", "reason").rows() == [(3, "cust", "duplicate of row 2 (same customer_id and time)")]
    assert r.restorations.height == 4
    assert (r.sources[0].n_identical, r.sources[0].n_identical_kept) == (2, 1)
    content = "ts,frac\n2018-01-08 20:00,0.5\n2018-01-08 20:00,0.5\n2018-01-08 20:10,0.6\n"
    extra = '[sources.columns]\nobserved_at = "ts"\nonline_fraction = "frac"\n'
    r = ingest(make_incident(content, kind="online_fraction", source_extra=extra, incident_id="online3"))
    assert r.rejects.select("row", "reason").rows() == [(3, "duplicate of row 2")]
    assert r.sources[0].dedupe == "exact"


def test_restorations_before_the_configured_onset_are_rejected(make_incident: Callable[..., Path]) -> None:
    # a log with a few clock errors: one restoration stamped before the onset, one window
    # closing before it; they are rejected with a reason (one row does not stop the fit)
    content = (
        "cust,at,after,before,ok\n"
        "c1,2018-01-08 21:00,,,true\n"
        "c2,2018-01-08 19:30,,,true\n"  # restored before the 20:00 onset
        "c3,,2018-01-08 19:00,2018-01-08 19:45,\n"  # a window that closes before the onset
        "c4,,2018-01-08 19:00,2018-01-08 20:30,\n"  # a window that straddles it: kept
        "c5,2018-01-08 20:00,,,true\n"  # at the onset itself: kept
        "c6,2018-01-08 19:50,,,false\n"  # still down, seen before the onset
    )
    extra = (
        '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\nrestored = "ok"\n'
        'restored_after = "after"\nrestored_before = "before"\n'
    )
    folder = make_incident(content, kind="restorations", source_extra=extra, extra='onset = "2018-01-08T20:00:00"\n')
    r = ingest(folder)
    assert r.rejects.select("row", "column", "reason").rows() == [
        (3, "at", "restored before the onset (2018-01-08 20:00 Europe/Brussels)"),
        (4, "before", "restored before the onset (2018-01-08 20:00 Europe/Brussels)"),
        (7, "at", "still down before the onset (2018-01-08 20:00 Europe/Brussels)"),
    ]
    assert sorted(r.restorations["customer_id"].to_list()) == ["c1", "c4", "c5"]
    s = r.sources[0]
    assert (s.n_raw, s.n_accepted, s.n_rejected) == (6, 3, 3)
    # without a configured onset nothing is judged against one
    r = ingest(make_incident(content, kind="restorations", source_extra=extra, incident_id="no-onset"))
    assert (r.restorations.height, r.rejects.height) == (6, 0)


def test_restoration_and_online_locations_are_checked_and_scrubbed(make_incident: Callable[..., Path]) -> None:
    content = "cust,at,lat,lon,town\nc1,2018-01-08 21:00,95,4.4,Namur tel 0470123456\n"
    extra = '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\nlat = "lat"\nlon = "lon"\nplace = "town"\n'
    r = ingest(make_incident(content, kind="restorations", source_extra=extra, incident_id="rest2"))
    row = r.restorations.row(0, named=True)
    assert row["lat"] is None
    assert "out of range" in row["issues"]
    assert row["place_raw"] == "Namur tel [phone]"
    content = "ts,frac,town\n2018-01-08 20:00,0.5,Namur (0470 12 34 56)\n"
    extra = '[sources.columns]\nobserved_at = "ts"\nonline_fraction = "frac"\nplace = "town"\n'
    r = ingest(make_incident(content, kind="online_fraction", source_extra=extra, incident_id="online2"))
    assert r.online["place_raw"].to_list() == ["Namur ([phone])"]


def test_typed_parquet_times_for_every_kind(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    pl.DataFrame(
        {
            "at": [dt.datetime(2018, 1, 8, 20), dt.datetime(2018, 10, 28, 2, 30)],  # naive: local wall-clock time
            "day": [dt.date(2018, 1, 9), None],
            "frac": [0.5, 0.6],
        }
    ).write_parquet(path)
    data = path.read_bytes()
    extra = '[sources.columns]\ncustomer_id = "frac"\nobserved_at = "at"\nrestored_before = "day"\n'
    r = ingest(make_incident(data, name="r.parquet", kind="restorations", source_extra=extra, incident_id="tp1"))
    assert r.restorations.sort("source_row")["restored_before"].to_list() == [dt.datetime(2018, 1, 9, 23, tzinfo=dt.UTC), None]
    extra = '[sources.columns]\nobserved_at = "at"\nonline_fraction = "frac"\n'
    r = ingest(make_incident(data, name="r.parquet", kind="online_fraction", source_extra=extra, incident_id="tp2"))
    assert r.online["observed_at"].to_list() == [
        dt.datetime(2018, 1, 8, 19, tzinfo=dt.UTC),
        dt.datetime(2018, 10, 28, 0, 30, tzinfo=dt.UTC),
    ]
    extra = '[sources.columns]\nreported_at = "day"\n'
    r = ingest(make_incident(data, name="r.parquet", source_extra=extra, incident_id="tp3"))
    assert r.reports.select("reported_at", "reported_until").rows() == [
        (dt.datetime(2018, 1, 8, 23, tzinfo=dt.UTC), dt.datetime(2018, 1, 9, 23, tzinfo=dt.UTC))
    ]
    assert r.rejects.select("row", "reason").rows() == [(2, "missing time")]


def test_bracketed_header_names_are_csv_not_json(make_incident: Callable[..., Path]) -> None:
    r = ingest(
        make_incident("[time];[town]\n2018-01-08 20:05;Liège\n", source_extra='[sources.columns]\nreported_at = "[time]"\n')
    )
    assert r.reports.height == 1


def test_a_windows_byte_after_the_first_megabyte_switches_the_file_to_cp1252(make_incident: Callable[..., Path]) -> None:
    head = "time,town,msg\n"
    rows = "".join(f"2018-01-08 {20 + i // 3600}:{i // 60 % 60:02d}:{i % 60:02d},Namur,ok\n" for i in range(40_000))
    data = (head + rows).encode("ascii") + "2018-01-09 10:00,Liège,télé\n".encode("cp1252")
    assert len(data) > (1 << 20)
    folder = make_incident(data, source_extra=MAP)
    r = ingest(folder)
    assert r.sources[0].encoding == "cp1252"
    assert r.reports.filter(pl.col("place_raw") == "Liège")["text"].to_list() == ["télé"]
    assert r.n_raw == 40_001
    # read in batches, the byte stops the batches (polars raises on it) and the file is read whole
    batched = ingest_incident(load_incident(folder), geocode=False, stream_bytes=0, batch_rows=10_000)
    assert batched.reports.equals(r.reports) and batched.sources == r.sources


def test_report_ids_are_unique_across_sources(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "one.csv").write_text("id,time\nb:c,2018-01-08 20:05\n", encoding="utf-8")
    (folder / "two.csv").write_text("id,time\nc,2018-01-08 20:06\n", encoding="utf-8")
    cols = '[sources.columns]\nreport_id = "id"\nreported_at = "time"\n'
    (folder / "incident.toml").write_text(
        'id = "two"\ntitle = "t"\ntimezone = "Europe/Brussels"\n'
        f'[[sources]]\npath = "one.csv"\nname = "a"\n{cols}[[sources]]\npath = "two.csv"\nname = "a:b"\n{cols}',
        encoding="utf-8",
    )
    ids = ingest(folder).reports["report_id"].to_list()
    assert sorted(ids) == ["a:b:c", "a:b:c#2"]


# --------------------------------------------------------------------------- large files in batches


def _ingest_both(folder: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int) -> tuple[object, object, int]:
    """The incident read whole and read in batches of ``batch_rows``; and how many batches were read."""
    import analysis.ingest.canonical

    whole = ingest_incident(load_incident(folder), geocode=False, stream_bytes=1 << 60)
    calls: list[int] = []
    real = analysis.ingest.canonical._report_work

    def counting(table: pl.DataFrame, *args: object, **kwargs: object) -> object:
        calls.append(table.height)
        return real(table, *args, **kwargs)

    monkeypatch.setattr(analysis.ingest.canonical, "_report_work", counting)
    batched = ingest_incident(load_incident(folder), geocode=False, stream_bytes=0, batch_rows=batch_rows)
    return whole, batched, len(calls)


def _same(a: object, b: object) -> None:
    assert a.reports.equals(b.reports)  # type: ignore[attr-defined]
    assert a.rejects.equals(b.rejects)  # type: ignore[attr-defined]
    assert a.sources == b.sources  # type: ignore[attr-defined]


@pytest.mark.parametrize("dedupe", ["identity", "exact"])
def test_a_large_file_read_in_batches_gives_the_same_tables(
    make_incident: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, dedupe: str
) -> None:
    # what crosses batch boundaries: a duplicate of a row three batches back, a report_id
    # repeated in a later batch, a day-first order proven only by the last rows (01/02 is
    # 1 February only because 13/01 exists further down), unreadable and empty rows
    rows = [
        "id,time,town,msg",
        "a,01/02/2018 20:05,Liège,plus de télé",
        "b,02/01/2018 20:10,Namur,écran noir",
        "c,03/01/2018 21:00,Gent,storing",
        "d,not a time,Gent,?",
        "a,04/01/2018 21:30,Mons,encore",  # id 'a' again, other content
        "b,02/01/2018 20:10,Namur,écran noir",  # duplicate of row 3
        ",,,",
        "e,1515441600,Evere,epoch seconds",
        "f,13/01/2018 08:00,Wavre,day-first proof",
        "g,14/01/2018 09:00,Ath,day-first proof",
    ]
    folder = make_incident(
        "\n".join(rows) + "\n",
        source_extra=f'dedupe = "{dedupe}"\n'
        + '[sources.columns]\nreport_id = "id"\nreported_at = "time"\nplace = "town"\ntext = "msg"\n',
    )
    whole, batched, n = _ingest_both(folder, monkeypatch, batch_rows=2)
    assert n >= 5  # really read in batches
    _same(whole, batched)
    r = batched.reports
    assert r.filter(pl.col("source_row") == 2)["reported_at"][0] == dt.datetime(2018, 2, 1, 19, 5, tzinfo=dt.UTC)
    assert r["report_id"].n_unique() == r.height
    reasons = dict(batched.rejects.select("row", "reason").rows())
    assert batched.sources[0].n_identical == 1  # row 7 repeats row 3, two batches back
    if dedupe == "identity":
        assert reasons[6] == "duplicate of row 2 (same report_id)"  # three batches back
        assert reasons[7] == "duplicate of row 3 (same report_id)"
        assert batched.sources[0].n_duplicates == 2
    else:
        assert reasons[7] == "duplicate of row 3"
        assert 6 not in reasons
        assert "report_id 'a' repeated" in r.filter(pl.col("source_row") == 6)["issues"][0]
        assert batched.sources[0].n_duplicates == 1


def test_batches_take_date_and_time_columns_and_fall_back_when_polars_cannot_split(
    make_incident: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = '[sources.columns]\ndate = "day"\ntime = "hour"\nplace = "town"\n'
    content = (
        "day;hour;town\n"
        + "".join(f"0{1 + i % 9}/01/2018;20:{i % 60:02d};Liège\n" for i in range(40))
        + "13/01/2018;20:15;Gent\n"
    )
    whole, batched, n = _ingest_both(make_incident(content, source_extra=extra), monkeypatch, batch_rows=7)
    assert n >= 6
    _same(whole, batched)
    # a ragged row far into the file: polars' reader cannot split it, the whole-file reader can
    ragged = "time,town,msg\n" + "2018-01-08 20:05,Liège,x\n" * 30 + "2018-01-08 20:06,Namur,y,extra,fields\n"
    whole, batched, _ = _ingest_both(make_incident(ragged, source_extra=MAP, incident_id="ragged"), monkeypatch, batch_rows=4)
    _same(whole, batched)
    assert batched.rejects.height == 1  # the ragged row; 29 rows identical to row 2 are kept
    assert batched.sources[0].n_identical == batched.sources[0].n_identical_kept == 29


def test_a_date_given_as_a_source_default_spans_every_row(
    make_incident: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = '[sources.columns]\ntime = "hour"\nplace = "town"\n[sources.defaults]\ndate = "08/01/2018"\n'
    content = "hour,town\n20:15,Liège\n21:40,Namur\n23:05,Gent\n"
    whole, batched, _ = _ingest_both(make_incident(content, source_extra=extra), monkeypatch, batch_rows=2)
    _same(whole, batched)
    assert whole.reports.sort("source_row")["reported_at"].to_list() == [
        dt.datetime(2018, 1, 8, h, m, tzinfo=dt.UTC) for h, m in ((19, 15), (20, 40), (22, 5))
    ]


def test_the_repeat_screen_uses_no_deprecated_polars_call(capfd: pytest.CaptureFixture[str]) -> None:
    from analysis.ingest.checks import _repeated_hashes

    hashes = pl.Series([5, 7, 5, 9, 7, 1], dtype=pl.UInt64)
    screen = _repeated_hashes(hashes, None)
    valid = _repeated_hashes(hashes, pl.Series([True, True, False, True, True, True]))
    assert screen is not None and screen.to_list() == [True, True, True, False, True, False]
    assert valid is not None and valid.to_list() == [False, True, False, False, True, False]
    # polars prints its deprecations on stderr itself (a user's terminal, cron mail), and the
    # call it deprecates breaks with a later version
    assert "Deprecat" not in capfd.readouterr().err
