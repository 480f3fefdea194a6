"""The imagetrail command line.

Exit codes: 0 all sources fine, 1 failure, 2 usage or configuration error,
3 partial (some source failed; its previous data was kept).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from etl import config as config_mod
from etl.config import SQL_DIR
from etl.errors import ConfigError, ImagetrailError, InputError

if TYPE_CHECKING:
    from etl.warehouse import Warehouse

logger = logging.getLogger("etl")

EXIT_CODES_HELP = (
    "Exit codes: 0 all sources fine, 1 failure, 2 usage or configuration error, "
    "3 partial (some source failed; its previous data was kept)."
)


def _setup_logging(verbose: int, quiet: bool) -> None:
    levels = {0: logging.WARNING, 1: logging.INFO}
    level = logging.ERROR if quiet else levels.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The SDKs' own retry and credential-chain chatter repeats what imagetrail says
    # in one line; it shows only with -vv.
    for noisy in (
        "azure",
        "urllib3",
        "botocore",
        "github",
        "msrest",
        "kubernetes",
        "google",
    ):
        logging.getLogger(noisy).setLevel(level if verbose > 1 else logging.ERROR)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="imagetrail.toml; without it, the bundled sample estate.",
)
db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB file (default: [warehouse] path, else imagetrail.duckdb).",
)

out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the reports (default: [reports] out).",
)


def _settings(config_path: Path | None, db_path: Path | None) -> config_mod.Settings:
    settings = config_mod.load(config_path)
    if db_path is not None:
        settings.warehouse_path = db_path
    return settings


@click.group(epilog=EXIT_CODES_HELP)
@click.option(
    "-v", "--verbose", count=True, help="Log each stage and scope (-vv: debug)."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only errors and failed sources (cron)."
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="imagetrail")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, debug: bool) -> None:
    """Map container images in registries and clusters to the CI run, commit and
    owner that built them, with the evidence of each link."""
    ctx.obj = {"debug": debug}
    _setup_logging(verbose, quiet)


@cli.command(epilog=EXIT_CODES_HELP)
@config_option
@db_option
@out_option
@click.option("--wait", is_flag=True, help="Wait for a running job instead of exiting.")
def run(
    config_path: Path | None, db_path: Path | None, out_dir: Path | None, wait: bool
) -> None:
    """Extract every configured source, map images to runs and owners, write reports."""
    from etl import pipeline

    settings = _settings(config_path, db_path)
    if out_dir is not None:
        settings.reports_out = out_dir
    result = pipeline.run(settings, wait=wait)
    quiet = click.get_current_context().find_root().params["quiet"]
    if not quiet:
        click.echo(f"warehouse: {settings.warehouse_path}")
        click.echo(
            f"reports: {settings.reports_out / 'index.html'}, "
            f"{len(result.reports)} files"
        )
    if quiet:
        # The warnings that name them are not logged under -q; cron mail needs them.
        for failed in result.failed:
            click.echo(f"failed (previous data kept): {failed}", err=True)
        for problem in result.problems:
            click.echo(f"problem: {problem}", err=True)
    elif result.failed or result.problems:
        click.echo(
            f"partial: {len(result.failed)} source scope(s) failed and "
            f"{len(result.problems)} input(s) could not be read (warnings above); "
            "their previous data was kept",
            err=True,
        )
    sys.exit(result.exit_code)


@cli.command(epilog=EXIT_CODES_HELP)
@config_option
@db_option
@out_option
def report(
    config_path: Path | None, db_path: Path | None, out_dir: Path | None
) -> None:
    """Write the HTML and Markdown reports again from the warehouse alone."""
    from etl import report as report_mod

    settings = _settings(config_path, db_path)
    wh = _read_only(settings)
    try:
        for path in report_mod.write_reports(wh, out_dir or settings.reports_out):
            click.echo(f"report: {path}")
    finally:
        wh.close()


def _read_only(settings: config_mod.Settings) -> Warehouse:
    # Imported here: pandas and DuckDB would slow every other command's start.
    from etl.warehouse import Warehouse

    return Warehouse(settings.warehouse_path, read_only=True)


def saved_queries() -> dict[str, Path]:
    return {p.stem: p for p in sorted((SQL_DIR / "queries").glob("*.sql"))}


@cli.command(
    epilog="Saved queries: " + ", ".join(saved_queries()) + ". " + EXIT_CODES_HELP
)
@click.argument("query")
@config_option
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def sql(query: str, config_path: Path | None, db_path: Path | None, fmt: str) -> None:
    """Run QUERY (SQL text, or the name of a saved query) on the warehouse."""
    import duckdb

    settings = _settings(config_path, db_path)
    saved = saved_queries()
    if not query.strip():
        raise ConfigError("empty query; give SQL or one of " + ", ".join(saved))
    if query not in saved and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", query):
        raise ConfigError(
            f"no saved query named {query!r}; saved queries: " + ", ".join(saved)
        )
    text = saved[query].read_text() if query in saved else query
    wh = _read_only(settings)
    try:
        cur = wh.con.execute(text)
        if cur.description is None:
            raise ConfigError("the query returned no result set; give a SELECT")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    except duckdb.Error as exc:
        hint = "" if query in saved else f" (saved queries: {', '.join(saved)})"
        raise ConfigError(f"query failed: {str(exc).splitlines()[0]}{hint}") from exc
    finally:
        wh.close()
    click.echo(_render(rows, names, fmt), nl=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _render(rows: list[dict[str, Any]], names: list[str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([_jsonable(r) for r in rows], indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return buf.getvalue()
    cells = [[_cell(r[n]) for n in names] for r in rows]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    lines.append(f"({len(rows)} rows)")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(_jsonable(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("ref")
@config_option
@db_option
def explain(ref: str, config_path: Path | None, db_path: Path | None) -> None:
    """Show how REF (image reference, digest or digest prefix) maps to run, commit and
    owner, with every piece of evidence."""
    from etl import explain as explain_mod

    settings = _settings(config_path, db_path)
    wh = _read_only(settings)
    try:
        click.echo(explain_mod.explain(wh, ref))
    finally:
        wh.close()


@cli.command("parse-log", epilog=EXIT_CODES_HELP)
# Not checked by click: an unreadable file is named and the others still read.
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False)
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of push events.")
def parse_log(files: tuple[Path, ...], as_json: bool) -> None:
    """Read build logs and print the image pushes they prove.

    FILE "-" reads standard input (``zcat job.log.gz | imagetrail parse-log -``).
    A file that cannot be read is named on standard error; the others are
    still printed, and the exit code is then 3 (1 if none could be read).
    """
    from etl.buildlogs import parse_file, parse_stream

    events: list[dict[str, Any]] = []
    failed = 0
    for path in files:
        try:
            if str(path) == "-":
                stdin = io.FileIO(sys.stdin.fileno(), closefd=False)
                found = parse_stream(stdin, "<stdin>")
            else:
                found = parse_file(path)
        except InputError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        for event in found:
            item = event.to_json()
            if len(files) > 1:
                item["file"] = str(path)
            events.append(item)
    if failed < len(files) or as_json:
        _print_events(events, as_json)
    if failed:
        sys.exit(1 if failed == len(files) else 3)


def _print_events(events: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    for e in events:
        outcome = {True: "pushed", False: "FAILED", None: "unknown"}[e["pushed"]]
        ref = e["image"] + (f":{e['tag']}" if e["tag"] else "")
        where = f"{e['file']}:" if "file" in e else "line "
        click.echo(f"{where}{e['line']}  {outcome:8} {ref}  {e['digest'] or '-'}")


@cli.command(epilog=EXIT_CODES_HELP)
@config_option
def doctor(config_path: Path | None) -> None:
    """Check each configured source's credentials, reach and permissions."""
    from etl import doctor as doctor_mod

    settings = _settings(config_path, None)
    checks = doctor_mod.run_checks(settings)
    for name, ok, message in checks:
        click.echo(f"{'ok  ' if ok else 'FAIL'} {name}: {message}")
    if not all(ok for _, ok, _ in checks):
        sys.exit(1)


@cli.command(epilog=EXIT_CODES_HELP)
@db_option
@config_option
def tables(db_path: Path | None, config_path: Path | None) -> None:
    """Describe the raw tables and their columns (the reference for ad-hoc SQL)."""
    from etl.docs import table_reference

    settings = _settings(config_path, db_path)
    click.echo(table_reference(settings.warehouse_path), nl=False)


def main() -> None:
    """Entry point: errors become one `Error: ...` line and an exit code."""
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        sys.exit(2)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except ImagetrailError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a cron job
        if debug:
            raise
        click.echo(
            f"Error: {type(exc).__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        sys.exit(1)
