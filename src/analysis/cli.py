"""The ``postmortem`` command line (also ``python -m analysis``).

A mistake in the user's data, config or parameters ends with one line on stderr and exit
code 2; a failed render with exit code 1, and so does a run that gave nothing usable (every
row rejected, no recovery curve: what could be written is written, and one line says why);
success with 0. Tracebacks are for bugs only.
``postmortem fit`` prints the metrics JSON on stdout and nothing else (logs go to stderr).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from analysis.errors import AnalysisError, ParameterError
from analysis.metrics import unusable

app = typer.Typer(
    name="postmortem",
    help="Outage post-mortem analysis: ingest reports, fit recovery curves, render the offline HTML report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain click help: flags without a "<bool>" value, options with their metavar
    rich_markup_mode=None,
)

ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="Notebook parameter (repeatable).")
]
ParamFile = Annotated[Path | None, typer.Option("--params-file", "-f", help="YAML file of parameters (-p values win).")]


def _err(message: str) -> None:
    typer.echo(f"postmortem: error: {message}", err=True)


def _interactive() -> bool:
    """Whether stderr is a terminal a person watches (no progress bars in logs, cron mail or pipes)."""
    return sys.stderr.isatty()


def _version(value: bool) -> None:
    if value:
        from analysis import __version__

        typer.echo(f"postmortem {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Outage post-mortem analysis: ingest reports, fit recovery curves, render the offline HTML report."""


def _timeout(value: float | None) -> float | None:
    """``--timeout``: the default limit when not given, none for 0."""
    from analysis.limits import default_timeout

    if value is None:
        return default_timeout()
    return None if value == 0 else value


def _overrides(param: list[str] | None, params_file: Path | None) -> dict[str, object]:
    from analysis.params import parse_cli_params

    return parse_cli_params(tuple(param or ()), yaml_file=params_file)


AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        help="Use only the evidence observed by TIME (ISO 8601; naive: the incident's local time). Same as -p as_of=TIME.",
    ),
]


DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        metavar="ADDRESS",
        help="Run the work on a Dask cluster: a scheduler address (tcp://host:8786), or local / local:N "
        "(N worker processes on this machine). Needs the 'dask' extra; see docs/scaling.md.",
    ),
]


def _with_as_of(overrides: dict[str, object], as_of: str | None) -> dict[str, object]:
    """The overrides with ``--as-of`` as the ``as_of`` parameter (the option wins over -p)."""
    return overrides | {"as_of": as_of} if as_of is not None else overrides


@contextlib.contextmanager
def _cluster(address: str | None) -> Iterator[Any]:
    """A Dask client for ``--dask`` (None without it: then nothing of Dask is imported)."""
    if address is None:
        yield None
        return
    try:
        from analysis import distributed
    except ImportError as exc:
        raise ParameterError(
            f"--dask needs Dask: install the 'dask' extra (pip install 'outage-postmortem[dask]') ({exc})"
        ) from None
    with distributed.connect(address) as client:
        yield client


NotebookOpt = Annotated[
    Path | None, typer.Option("--notebook", help="Report notebook to execute (default notebooks/postmortem.ipynb).")
]


@app.command()
def render(
    incident_dir: Annotated[Path, typer.Argument(help="Incident folder (holding incident.toml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Reports root; the report goes to <out>/<id>/.")] = Path("reports"),
    param: ParamOpt = None,
    params_file: ParamFile = None,
    notebook: NotebookOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds allowed for the whole render; after that it stops and fails "
            "(default 1800, or POSTMORTEM_TIMEOUT; 0: no limit).",
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show the notebook's cell progress (default: only on a terminal).",
            show_default=False,
        ),
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Run id for the manifest (default: time + random).")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Ingest, fit and render one incident: postmortem.html, metrics.json, postmortem.ipynb, manifest.json.

    A failure leaves the previous report untouched and writes <out>/<id>/failed/.
    With --as-of the page is a live page: only the evidence observed by then, an "as of" banner.
    """
    from analysis.report import NOTEBOOK, stop_on_sigterm
    from analysis.report import render as do_render

    overrides = _with_as_of(_overrides(param, params_file), as_of)
    stop_on_sigterm()  # a scheduler stopping the task still gets failed/ written
    result = do_render(
        incident_dir,
        out_root=out,
        overrides=overrides,
        notebook=notebook or NOTEBOOK,
        timeout=_timeout(timeout),
        progress=_interactive() if progress is None else progress,
        run_id=run_id,
    )
    problem = unusable(result.metrics)
    if problem:
        _err(f"{result.incident_id}: written to {result.out_dir / 'postmortem.html'}, but {problem}")
        raise typer.Exit(1)
    typer.echo(f"{result.incident_id}: ok in {result.seconds:.1f} s → {result.out_dir / 'postmortem.html'}", err=True)


@app.command("render-all")
def render_all(
    data_dir: Annotated[Path, typer.Argument(help="Folder of incident folders (e.g. data/raw).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Reports root.")] = Path("reports"),
    param: ParamOpt = None,
    params_file: ParamFile = None,
    notebook: NotebookOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Incidents rendered in parallel (one process each).")] = 1,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds allowed per incident; a run over the limit fails alone "
            "(default 1800, or POSTMORTEM_TIMEOUT; 0: no limit).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-render incidents whose inputs did not change.")] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="For schedulers: one summary line on stdout, failures on stderr; the rest in <out>/render-all.log.",
        ),
    ] = False,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id shared by every manifest of this batch (e.g. the scheduler's).")
    ] = None,
    dask: DaskOpt = None,
) -> None:
    """Render every incident under DATA_DIR, each in its own process; write <out>/index.html.

    Unchanged incidents are skipped (see the log for why); exit code 0 only if none failed.
    With --dask each incident is rendered as a task on the cluster (at most --jobs at a
    time, by default as many as the cluster has worker threads).
    """
    from analysis.batch import render_all as do_render_all
    from analysis.report import NOTEBOOK

    overrides = _overrides(param, params_file)
    with _cluster(dask) as client:
        start = None
        if client is not None:
            from analysis.distributed import n_threads, starter

            start = starter(client)
            jobs = jobs if jobs > 1 else n_threads(client)
        summary = do_render_all(
            data_dir,
            out_root=out,
            overrides=overrides,
            notebook=notebook or NOTEBOOK,
            jobs=jobs,
            timeout=_timeout(timeout),
            force=force,
            quiet=quiet,
            run_id=run_id,
            start=start,
        )
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def fit(
    incident_dir: Annotated[Path, typer.Argument(help="Incident folder (holding incident.toml).")],
    param: ParamOpt = None,
    params_file: ParamFile = None,
    as_of: AsOfOpt = None,
    dask: DaskOpt = None,
) -> None:
    """Ingest and fit without rendering; print metrics.json on stdout.

    With --as-of, the evidence as it stood then, with a nowcast block. With --dask, sources
    of several files (a glob or a folder) are read on the cluster; the fit runs here, on the
    merged tables.
    """
    from analysis.params import validate_params
    from analysis.pipeline import analyze

    overrides = _with_as_of(_overrides(param, params_file), as_of)
    for fixed in ("incident_dir", "output_dir"):
        if fixed in overrides:
            raise ParameterError(f"parameter '{fixed}' is set by the command (the INCIDENT_DIR argument), not with -p")
    params = validate_params(**({"incident_dir": str(incident_dir), "output_dir": ""} | overrides))
    with _cluster(dask) as client, _ticker(f"fitting {incident_dir}"):
        if client is None:
            analysis = analyze(params)
        else:
            from analysis.distributed import on_cluster

            with on_cluster(client):
                analysis = analyze(params)
    sys.stdout.write(json.dumps(analysis.metrics, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    problem = unusable(analysis.metrics)
    if problem:
        _err(f"{analysis.incident.id}: {problem}")
        raise typer.Exit(1)


@app.command()
def nowcast(
    incident_dir: Annotated[Path, typer.Argument(help="Incident folder (holding incident.toml).")],
    as_of: AsOfOpt = None,
    param: ParamOpt = None,
    params_file: ParamFile = None,
) -> None:
    """Print one JSON line for monitoring: share still out, ETA to 50 % / 90 % restored, with intervals.

    Without --as-of the evidence is taken as it stands (the as-of time is the newest
    observation, or the incident's configured end).
    """
    from analysis.nowcast import nowcast as do_nowcast
    from analysis.params import validate_params
    from analysis.pipeline import analyze

    overrides = _with_as_of(_overrides(param, params_file), as_of)
    for fixed in ("incident_dir", "output_dir"):
        if fixed in overrides:
            raise ParameterError(f"parameter '{fixed}' is set by the command (the INCIDENT_DIR argument), not with -p")
    params = validate_params(**({"incident_dir": str(incident_dir), "output_dir": ""} | overrides))
    with _ticker(f"nowcasting {incident_dir}"):
        analysis = analyze(params)
    doc = do_nowcast(analysis).to_json()
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n")


@app.command()
def export(
    notebook: Annotated[
        Path, typer.Argument(help="An executed report notebook (papermill's output, or a report's postmortem.ipynb).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The page to write (default: the notebook's name with .html).")
    ] = None,
) -> None:
    """Export an executed notebook as the offline report page (as render does; also: jupyter nbconvert --to postmortem)."""
    from analysis.report import export_notebook

    page = export_notebook(notebook, out)
    typer.echo(f"{notebook} → {page}", err=True)


@app.command()
def ingest(
    incident_dir: Annotated[Path, typer.Argument(help="Incident folder (holding incident.toml).")],
    processed: Annotated[Path | None, typer.Option(help="Processed-data root (default data/processed).")] = None,
    dask: DaskOpt = None,
) -> None:
    """Read every source into data/processed/<id>/ (reports, rejects, …) and print the counts.

    With --dask, sources of several files (a glob or a folder) are read on the cluster, one
    task per file; counts.parquet then holds their reports per 15-minute bin × municipality ×
    service, summed from the tasks' partial counts.
    """
    from analysis.config import load_incident
    from analysis.ingest import ingest_to_processed

    incident = load_incident(incident_dir)
    if processed is not None:
        from analysis.report import check_out_root

        check_out_root(processed, [incident.folder], option="--processed")
    with _cluster(dask) as client:
        if client is None:
            result, paths = ingest_to_processed(incident, root=processed)
        else:
            from analysis.distributed import on_cluster, write_counts

            with on_cluster(client) as reader:
                result, paths = ingest_to_processed(incident, root=processed)
            paths["counts"] = write_counts(reader.all_counts(), paths["reports"].parent)
    for s in result.sources:
        typer.echo(f"{s.source}: {s.n_raw} rows = {s.n_accepted} kept + {s.n_rejected} rejected ({s.kind}, {s.path})")
        typer.echo(
            f"  dedupe = {s.dedupe}: {s.n_identical} rows identical to an earlier row ({s.n_identical_kept} kept), "
            f"{s.n_duplicates} rejected as duplicates"
        )
    typer.echo(f"total: {result.n_raw} rows = {result.n_reports} kept + {result.n_rejected} rejected → {paths['reports'].parent}")


@app.command()
def validate(
    incident_dir: Annotated[Path, typer.Argument(help="Incident folder (holding incident.toml).")],
    param: ParamOpt = None,
    params_file: ParamFile = None,
) -> None:
    """Check incident.toml, the parameters and every source file, without writing anything."""
    from analysis.config import load_incident
    from analysis.ingest import read_source_checked
    from analysis.ingest.restorations import own_start_counts
    from analysis.params import validate_params
    from analysis.quality_report import rejects_by_reason

    incident = load_incident(incident_dir)
    overrides = _overrides(param, params_file)
    for fixed in ("incident_dir", "output_dir"):
        if fixed in overrides:
            raise ParameterError(f"parameter '{fixed}' is set by the command (the INCIDENT_DIR argument), not with -p")
    validate_params(**({"incident_dir": str(incident_dir)} | overrides))
    n_raw = n_usable = n_records = 0
    for source in incident.sources:
        read = read_source_checked(incident, source)  # as ingest reads it, without writing
        rows, records, rejects, tally = read.n_raw, read.records, read.rejects, read.tally
        n_raw, n_usable = n_raw + rows, n_usable + records.height
        n_records += records.height if source.kind == "restorations" else 0
        reasons = rejects_by_reason(rejects).head(3).select("reason", "rows").rows() if rejects.height else []
        detail = "; ".join(f"{n}× {r}" for r, n in reasons)
        typer.echo(
            f"{source.name}: {rows} rows, {records.height} usable, {rejects.height} rejected{': ' + detail if detail else ''}"
        )
        typer.echo(
            f"  dedupe = {source.dedupe}: {tally.identical} rows identical to an earlier row ({tally.identical_kept} kept), "
            f"{tally.duplicates} rejected as duplicates"
        )
        if source.kind == "restorations" and (own := own_start_counts(records))[0]:
            typer.echo(f"  {own[0]} records measured from their own start (started_at), {own[1]} still open (right-censored)")
    if incident.geography.boundaries is not None or incident.geography.exposure is not None:
        # the files fit reads for the areas, read the same way (a bad key column fails here too)
        from analysis.geo.boundaries import area_layer

        layer = area_layer(incident.geography)
        typer.echo(f"geography: {len(layer.boundaries)} areas ({layer.source})")
    if n_usable == 0:
        _err(f"{incident.id}: nothing usable: " + ("no rows in any source" if n_raw == 0 else f"all {n_raw} rows rejected"))
        raise typer.Exit(1)
    if n_records and incident.onset is None:  # the fit measures each restoration from the onset
        _err(f"{incident.id}: onset: required in incident.toml with restoration records (their times are measured from it)")
        raise typer.Exit(1)
    typer.echo(f"{incident.id}: valid")


@app.command()
def profile(
    incident_dirs: Annotated[list[Path], typer.Argument(help="Two or more incident folders of one population.")],
) -> None:
    """Estimate one clock profile (hourly propensity to report) across incidents; print it as JSON.

    Incidents begun at different hours separate the clock profile from the recovery curve,
    which one incident cannot (docs/recovery.md); copy ``hourly_propensity`` into the next
    incident's [reporting] table with ``profile = "shared"`` (the intervals then keep the
    profile's error).
    """
    from analysis.fitting import shared_profile

    with _ticker(f"estimating the clock profile from {len(incident_dirs)} incidents"):
        out = shared_profile(list(incident_dirs))
    sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


@app.command()
def geocode(
    places: Annotated[list[str] | None, typer.Argument(metavar="PLACE", help="Place names, postal codes or 'lat,lon'.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="CSV with any of: place, postal_code, lat, lon.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the CSV with resolution columns.")] = None,
) -> None:
    """Resolve places to Belgian municipalities (offline)."""
    from analysis.geo import format_resolution, geocode_table, resolve_place

    if csv is not None:
        import polars as pl

        from analysis.errors import IngestError

        if out is None:
            raise IngestError("--csv needs --out (the file to write)")
        try:
            table = pl.read_csv(csv, infer_schema=False)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise IngestError(f"{csv}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
        result = geocode_table(table)
        _defuse_formulas(result).write_csv(out)
        resolved = result.filter(pl.col("nis_code").is_not_null()).height
        typer.echo(f"{result.height} rows, {resolved} resolved → {out}", err=True)
        return
    if not places:
        raise typer.BadParameter("give places to resolve, or --csv IN --out OUT")
    for place in places:
        typer.echo(format_resolution(_resolve_arg(place, resolve_place), place=place))


@contextlib.contextmanager
def _ticker(label: str) -> Iterator[None]:
    """On a terminal, one self-updating line with the elapsed seconds while the block runs; elsewhere nothing."""
    if not _interactive():
        yield
        return
    import threading
    import time

    stop = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        while True:
            sys.stderr.write(f"\r{label}… {time.monotonic() - start:.0f} s")
            sys.stderr.flush()
            if stop.wait(1.0):
                return

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _defuse_formulas(table: object) -> object:
    """Text cells a spreadsheet would run as a formula (``= + - @``, tab, CR first) prefixed with ``'``.

    Plain signed numbers (``-4.5``) are left as they are.
    """
    import polars as pl

    assert isinstance(table, pl.DataFrame)
    risky = r"^[=+\-@\t\r]"
    number = r"^[+-]?[0-9]+(?:[.,][0-9]+)?$"  # a plain signed number stays a number
    return table.with_columns(
        pl.when(pl.col(c).str.contains(risky) & ~pl.col(c).str.contains(number))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, dtype in table.schema.items()
        if dtype == pl.String
    )


def _resolve_arg(place: str, resolve_place: object) -> dict[str, object]:
    parts = [p.strip() for p in place.split(",")]
    if len(parts) == 2:
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except ValueError:
            pass
        else:
            return resolve_place(None, lat=lat, lon=lon)  # type: ignore[operator]
    return resolve_place(place)  # type: ignore[operator]


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="Scenario name (proximus-2018, regional, flat, telemetry).")] = "proximus-2018",
    reports: Annotated[
        int | None, typer.Option(min=1, help="Number of reports, or devices for telemetry (default: the scenario's).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed writes the same files.")] = 0,
    out: Annotated[Path, typer.Option(help="Incident folder to write (its name becomes the incident id).")] = Path(
        "data/raw/simulated"
    ),
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing if the folder already holds an incident.")] = False,
    clean: Annotated[
        bool, typer.Option("--clean", help="No noise: no typos, missing places, windows, duplicates or bad rows.")
    ] = False,
) -> None:
    """Write a simulated incident folder with known truth (incident.toml, the source CSV, truth.json)."""
    from analysis.simulate import Noise, get_scenario, write_scenario

    get_scenario(scenario)  # an unknown name fails before anything is checked on disk
    if if_missing and (out / "incident.toml").is_file():
        typer.echo(f"{out}: already present, kept", err=True)
        return
    path = write_scenario(scenario, out, n_reports=reports, seed=seed, noise=Noise.none() if clean else None)
    typer.echo(f"simulated '{scenario}' (seed {seed}) → {path}", err=True)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler writing to whatever ``sys.stderr`` is when a record comes (tests swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    from analysis.errors import RenderError

    # the library's warnings (e.g. an id differing from its folder name) as one line each
    library = logging.getLogger("analysis")
    if not any(getattr(h, "_postmortem", False) for h in library.handlers):
        warn = _StderrHandler()
        warn.setLevel(logging.WARNING)
        warn.setFormatter(logging.Formatter("postmortem: warning: %(message)s"))
        warn._postmortem = True  # type: ignore[attr-defined]
        library.addHandler(warn)
    try:
        code = app(standalone_mode=False)
    except AnalysisError as exc:
        _err(str(exc))
        sys.exit(1 if isinstance(exc, RenderError) else 2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _err("interrupted")
        sys.exit(130)
    except Exception as exc:
        # usage errors (unknown option, missing argument): typer raises its own copy of
        # click's exceptions (a TyperException), older typer versions click's
        import click

        if isinstance(exc, (click.ClickException, typer.exceptions.TyperException)) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        raise
    # without standalone mode click returns the code of a ``typer.Exit`` instead of exiting
    if isinstance(code, int) and code:
        if code == 130:  # typer turns Ctrl-C (and render-all's SIGTERM) into this code
            _err("interrupted")
        sys.exit(code)
