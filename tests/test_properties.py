"""Property-based tests of the loaders, the time parser and the scrubber (hypothesis).

* Arbitrary bytes or text never crash CSV/JSONL ingest: it either returns tables whose
  counts reconcile row by row, or raises the project's IngestError.
* Valid generated reports survive a write → ingest round trip exactly (instants, places,
  free text), whatever the delimiter, encoding, quoting or line ending.
* Around both daylight-saving changes in Europe/Brussels, naive times follow the policy of
  analysis.timeparse, checked against Python's zoneinfo.
* The vectorised column scrubber gives exactly what the scalar scrubber gives.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.config import load_incident
from analysis.errors import IngestError
from analysis.ingest import ingest_incident
from analysis.privacy import _first_names, scrub_column, scrub_place, scrub_text
from analysis.timeparse import parse_times

BRUSSELS = ZoneInfo("Europe/Brussels")
FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOML = """id = "prop"
title = "Property test"
timezone = "Europe/Brussels"
[[sources]]
path = "{path}"
[sources.columns]
reported_at = "time"
place = "place"
text = "text"
"""


def ingest_file(data: bytes, name: str) -> tuple[object | None, IngestError | None]:
    """Ingest one file as the only source of a fresh incident; the result or the IngestError."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / name).write_bytes(data)
        (folder / "incident.toml").write_text(TOML.format(path=name), encoding="utf-8")
        try:
            return ingest_incident(load_incident(folder), geocode=False), None
        except IngestError as exc:
            return None, exc


def assert_reconciled(result: object) -> None:
    n_raw = result.n_raw  # type: ignore[attr-defined]
    rows = result.rejects["row"].to_list() + result.reports["source_row"].to_list()  # type: ignore[attr-defined]
    assert len(rows) == len(set(rows)) == n_raw == result.n_reports + result.n_rejected  # type: ignore[attr-defined]
    assert result.rejects["reason"].null_count() == 0  # type: ignore[attr-defined]
    assert result.reports["report_id"].n_unique() == result.reports.height  # type: ignore[attr-defined]


def assert_one_line(error: IngestError, name: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert name in message


# --------------------------------------------------------------------------- never crash

HEADERS = [b"time,place,text\n", b"time;place;text\r\n", b"\xef\xbb\xbftime\tplace\ttext\n", b""]
CSV_NOISE = st.lists(
    st.sampled_from(
        ['"', '""', ",", ";", "\t", "|", "\n", "\r\n", "\r", " ", "2018-01-08 20:05", "Liège", "x", "\x00", "é", "\u2028"]
    ),
    max_size=40,
).map("".join)


@FAST
@given(
    header=st.sampled_from(HEADERS),
    body=st.one_of(
        st.binary(max_size=300),
        CSV_NOISE.map(lambda s: s.encode("utf-8")),
        st.text(max_size=200).map(lambda s: s.encode("utf-16")),
    ),
)
def test_arbitrary_bytes_never_crash_csv_ingest(header: bytes, body: bytes) -> None:
    result, error = ingest_file(header + body, "r.csv")
    if error is not None:
        assert_one_line(error, "r.csv")
    else:
        assert_reconciled(result)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
JSON_LINE = st.one_of(
    st.fixed_dictionaries(
        {"time": st.one_of(st.text(max_size=25), st.just("2018-01-08 20:05")), "place": JSON_VALUES},
        optional={"text": JSON_VALUES},
    ).map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=40),
)


@FAST
@given(lines=st.lists(JSON_LINE, max_size=12), raw=st.binary(max_size=80), mode=st.sampled_from(["lines", "bytes"]))
def test_arbitrary_lines_never_crash_jsonl_ingest(lines: list[str], raw: bytes, mode: str) -> None:
    data = "\n".join(lines).encode("utf-8") if mode == "lines" else raw
    result, error = ingest_file(data, "r.jsonl")
    if error is not None:
        assert_one_line(error, "r.jsonl")
    else:
        assert_reconciled(result)


def _column(kind: str, n: int) -> st.SearchStrategy[pl.Series]:
    values = {
        "text": st.one_of(st.none(), st.text(max_size=12), st.just("2018-01-08 20:05")),
        "int": st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        "float": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        "bool": st.one_of(st.none(), st.booleans()),
        "naive": st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2300, 1, 1))),
        "aware": st.one_of(st.none(), instants),
        "date": st.one_of(st.none(), st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2300, 1, 1))),
        "list": st.one_of(st.none(), st.lists(st.integers(0, 9), max_size=3)),
    }[kind]
    dtypes = {"aware": pl.Datetime("us", "UTC"), "naive": pl.Datetime("us"), "list": pl.List(pl.Int64)}
    return st.lists(values, min_size=n, max_size=n).map(lambda v: pl.Series(v, dtype=dtypes.get(kind), strict=False))


KINDS = ["text", "int", "float", "bool", "naive", "aware", "date", "list"]
parquet_frames = st.integers(0, 6).flatmap(
    lambda n: st.dictionaries(
        st.sampled_from(["time", "place", "text", "lat", "lon", "count", "status", "_row", "", "x"]),
        st.sampled_from(KINDS).flatmap(lambda kind: _column(kind, n)),
        min_size=1,
        max_size=6,
    )
)


@FAST
@given(columns=parquet_frames)
def test_arbitrary_typed_parquet_never_crashes_ingest(columns: dict[str, pl.Series]) -> None:
    frame = pl.DataFrame({name or "blank": series for name, series in columns.items()})
    buf = io.BytesIO()
    frame.write_parquet(buf)
    result, error = ingest_file(buf.getvalue(), "r.parquet")
    if error is not None:
        assert_one_line(error, "r.parquet")
    else:
        assert_reconciled(result)
        assert result.n_raw == frame.height  # type: ignore[union-attr]


# --------------------------------------------------------------------------- exact round trips

# Text the scrubber leaves alone (no digits, capitals, "@", markup, "t" — so no "at ... dot"),
# but with every character that stresses CSV: delimiters, quotes, line breaks, accents.
TEXT_CHARS = "abcdefghijklmnopqrsuvwxyzéèàçüöëï ,;|\t'\"-!?.:\n"
PLACE_CHARS = "abcdefghijklmnopqrsuvwxyzABCDEFGHIJKLMNOPQRSUVWXYZéèâçÉ -'"
texts = st.text(alphabet=TEXT_CHARS, min_size=1, max_size=40).map(str.strip).filter(bool)
places = st.text(alphabet=PLACE_CHARS, min_size=1, max_size=25).map(str.strip).filter(bool)
instants = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 30), timezones=st.just(dt.UTC))
offsets = st.sampled_from([None, "Z", "+00:00", "+01:00", "+02:00", "-05:30", "+0100"])


def unambiguous_local(t: dt.datetime) -> bool:
    naive = t.astimezone(BRUSSELS).replace(tzinfo=None)
    return naive.replace(tzinfo=BRUSSELS, fold=0).utcoffset() == naive.replace(tzinfo=BRUSSELS, fold=1).utcoffset()


def written(t: dt.datetime, offset: str | None) -> str:
    """The instant as a file would show it: local wall-clock time, or with an offset."""
    if offset is None:
        return t.astimezone(BRUSSELS).replace(tzinfo=None).isoformat(sep=" ")
    if offset == "Z":
        return t.replace(tzinfo=None).isoformat() + "Z"
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[-2:])
    zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    text = t.astimezone(zone).replace(tzinfo=None).isoformat()
    return text + offset


# the rows of one file lie within 300 days of each other: a row further than a year from
# the median time of its source is an outlier, rejected with its reason (docs/security.md)
rows_strategy = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 3, 1)).flatmap(
    lambda base: st.lists(
        st.tuples(
            st.datetimes(min_value=base, max_value=base + dt.timedelta(days=300), timezones=st.just(dt.UTC)),
            offsets,
            places,
            texts,
        ).filter(lambda r: r[1] is not None or unambiguous_local(r[0])),
        min_size=1,
        max_size=15,
        unique_by=lambda r: (r[0], r[2], r[3]),
    )
)


@FAST
@given(
    rows=rows_strategy,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    terminator=st.sampled_from(["\n", "\r\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_valid_csv_round_trips_exactly(
    rows: list[tuple[dt.datetime, str | None, str, str]], delimiter: str, encoding: str, terminator: str, quoting: int
) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(["time", "place", "text"])
    writer.writerows([written(t, off), place, text] for t, off, place, text in rows)
    result, error = ingest_file(buf.getvalue().encode(encoding), "r.csv")
    assert error is None, str(error)
    assert result.n_rejected == 0, result.rejects.to_dicts()  # type: ignore[union-attr]
    got = result.reports.sort("source_row").select("reported_at", "place_raw", "text").rows()  # type: ignore[union-attr]
    assert got == [(t, place, text) for t, _, place, text in rows]
    assert result.sources[0].delimiter == delimiter  # type: ignore[union-attr]


@FAST
@given(rows=rows_strategy, ascii_only=st.booleans())
def test_valid_jsonl_round_trips_exactly(rows: list[tuple[dt.datetime, str | None, str, str]], ascii_only: bool) -> None:
    lines = [
        json.dumps({"time": written(t, off), "place": place, "text": text}, ensure_ascii=ascii_only)
        for t, off, place, text in rows
    ]
    result, error = ingest_file(("\n".join(lines) + "\n").encode("utf-8"), "r.jsonl")
    assert error is None, str(error)
    got = result.reports.sort("source_row").select("source_row", "reported_at", "place_raw", "text").rows()  # type: ignore[union-attr]
    assert got == [(i, t, place, text) for i, (t, _, place, text) in enumerate(rows, start=1)]


# --------------------------------------------------------------------------- daylight saving


def last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 31)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


transition_times = st.builds(
    lambda year, month, minute: dt.datetime.combine(last_sunday(year, month), dt.time()) + dt.timedelta(minutes=minute),
    st.integers(1996, 2037),
    st.sampled_from([3, 10]),
    st.integers(0, 5 * 60),
)


@FAST
@given(times=st.lists(transition_times, min_size=1, max_size=20), policy=st.sampled_from(["earliest", "latest", "reject"]))
def test_dst_gap_and_overlap_follow_the_documented_policy(times: list[dt.datetime], policy: str) -> None:
    parsed = parse_times(pl.Series("t", [t.isoformat(sep=" ") for t in times]), timezone="Europe/Brussels", ambiguous=policy)  # type: ignore[arg-type]
    assert parsed.note is not None
    for naive, utc, reason, note in zip(times, parsed.utc, parsed.reason, parsed.note, strict=True):
        first, second = naive.replace(tzinfo=BRUSSELS, fold=0), naive.replace(tzinfo=BRUSSELS, fold=1)
        exists = first.astimezone(dt.UTC).astimezone(BRUSSELS).replace(tzinfo=None) == naive
        twice = exists and first.utcoffset() != second.utcoffset()
        if not exists:  # spring forward: this wall-clock time never happened
            assert utc is None
            assert "does not exist" in reason
        elif twice and policy == "reject":
            assert utc is None
            assert "happens twice" in reason
        elif twice:  # autumn: the pass the policy names, with a note saying so
            chosen = first if policy == "earliest" else second
            assert utc == chosen.astimezone(dt.UTC)
            assert reason is None
            assert ("first pass" if policy == "earliest" else "second pass") in note
        else:
            assert utc == first.astimezone(dt.UTC)
            assert reason is None
            assert note is None


@FAST
@given(
    values=st.lists(st.one_of(st.text(max_size=30), st.none(), transition_times.map(lambda t: t.isoformat(sep=" "))), max_size=20)
)
def test_every_value_is_a_time_or_has_a_reason(values: list[str | None]) -> None:
    parsed = parse_times(pl.Series("t", values, dtype=pl.String), timezone="Europe/Brussels")
    for utc, reason in zip(parsed.utc, parsed.reason, strict=True):
        assert (utc is None) != (reason is None)


# --------------------------------------------------------------------------- scrubbing


NAMES = sorted(n.capitalize() for n in _first_names())
PIECES = st.sampled_from(
    [
        "Zoé", "Zoe\u0301", "Thérèse", "Therèse", "Agnes", "de", "uit", " ", "\n", "\x1c", "\xa0", ",", ".", "@", "(at)", " at ",
        " dot ", "0470", "12", "34", "56", "/", "-", "+32", "2018-01-08", "20:05", "<b>", "</b>", "<script>", "</script>", "&lt;",
        "&amp;", "M.", "Mme", "groeten", "Bien à vous", "BIEN À VOUS", "signé", "Liège", "Saint-", "BE68", "5390", "’", "…", "ﬁ",
        "２", "Ω", "Jean-Louis", "Marie-Therese", "Łukasz", "Weiß", "IK BEN",
    ]
)  # fmt: skip
scrub_inputs = st.lists(st.one_of(PIECES, st.sampled_from(NAMES), st.text(max_size=3)), max_size=12).map("".join)


@FAST
@given(values=st.lists(st.one_of(scrub_inputs, st.none()), min_size=1, max_size=20), names=st.booleans())
def test_vectorised_scrubbing_equals_the_scalar_scrubber(values: list[str | None], names: bool) -> None:
    fn = scrub_text if names else scrub_place
    assert scrub_column(pl.Series("t", values, dtype=pl.String), names=names).to_list() == [fn(v) for v in values]
