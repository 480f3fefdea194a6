"""The reports: one plain context built from SQL, rendered as HTML and Markdown."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup

from etl.config import ROOT, SQL_DIR
from etl.errors import ImagetrailError
from etl.warehouse import Warehouse

logger = logging.getLogger(__name__)

TEMPLATES = ROOT / "reports" / "templates"
REPORT_SQL = SQL_DIR / "report"
TITLE = "imagetrail: vulnerable images, the runs that built them, their owners"
UNOWNED = "unowned"

Context = dict[str, Any]


def write_reports(wh: Warehouse, out_dir: Path) -> list[Path]:
    """Write index.html, remediation.md and owners/<owner>.md; return their paths."""
    context = build_context(wh)
    out_dir.mkdir(parents=True, exist_ok=True)
    html, markdown = _html_env(), _markdown_env()
    written = [
        _write(out_dir / "index.html", html.get_template("index.html.j2"), context),
        _write(
            out_dir / "remediation.md",
            markdown.get_template("remediation.md.j2"),
            context,
        ),
    ]
    written += _write_owner_files(out_dir / "owners", markdown, context)
    logger.info(
        "wrote %s report files for %s owners to %s",
        len(written),
        len(context["owners"]),
        out_dir,
    )
    return written


# -- context --------------------------------------------------------------------


def build_context(wh: Warehouse) -> Context:
    """Everything the templates show, as lists of dicts of str, int and bool."""
    worklist = _rows(wh, "worklist")
    unresolved = _rows(wh, "unresolved")
    sweeps = _rows(wh, "sweeps")
    owners = _owners(_rows(wh, "owners"), worklist, unresolved)
    return {
        "title": TITLE,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "job_id": sweeps[0]["job_id"] if sweeps else "",
        **_split_total("coverage", _rows(wh, "coverage")),
        **_split_total("activity", _rows(wh, "activity")),
        "sweeps": sweeps,
        "failed_sweeps": [s for s in sweeps if s["failed"]],
        "owners": owners,
        "worklists": [o for o in owners if o["worklist"]],
        "ambiguous": [r for r in unresolved if r["status"] == "ambiguous"],
        "unmapped": [r for r in unresolved if r["status"] == "unmapped"],
    }


def _rows(wh: Warehouse, name: str) -> list[dict[str, Any]]:
    """The rows of sql/report/<name>.sql, made plain for the templates."""
    sql = (REPORT_SQL / f"{name}.sql").read_text()
    try:
        rows = wh.records(sql)
    except duckdb.CatalogException as exc:
        raise ImagetrailError(
            f"warehouse {wh.path} has no mapping tables yet: run 'imagetrail run' "
            "before writing reports from it"
        ) from exc
    return [_plain_row(row) for row in rows]


def _split_total(name: str, rows: list[dict[str, Any]]) -> Context:
    """Rows of a query with a grand-total row as <name> (the rows) and <name>_total."""
    return {
        name: [r for r in rows if not r["is_total"]],
        f"{name}_total": next(r for r in rows if r["is_total"]),
    }


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(key, value) for key, value in row.items()}


def _plain(key: str, value: Any) -> Any:
    """A SQL value as str, int, bool, list or dict; None becomes ''."""
    if value is None:
        return ""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _safe_url(value) if key.endswith("url") else value
    if isinstance(value, float | Decimal):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dict):
        return _plain_row(value)
    if isinstance(value, list | tuple):
        return [_plain(key, item) for item in value]
    raise TypeError(f"report column {key!r} has a {type(value).__name__} value")


def _safe_url(url: str) -> str:
    # A run URL comes from upstream JSON; only web links may become an href.
    if not re.match(r"https?://", url, re.IGNORECASE):
        return ""
    return re.sub(r"\s", lambda m: f"%{ord(m.group()):02X}", url)


def _owners(
    summaries: list[dict[str, Any]],
    worklist: list[dict[str, Any]],
    unresolved: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Owner summaries in report order, each with its worklist and unresolved images."""
    slugs = owner_slugs(s["owner"] for s in summaries)
    items, pending = _by_owner(worklist), _by_owner(unresolved)
    return [
        {
            **summary,
            "name": summary["owner"] or UNOWNED,
            "slug": slugs[summary["owner"]],
            "anchor": "owner-" + slugs[summary["owner"]],
            "worklist": items.get(summary["owner"], []),
            "unresolved": pending.get(summary["owner"], []),
        }
        for summary in summaries
    ]


def _by_owner(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by owner, each group in the order SQL returned it."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["owner"], []).append(row)
    return groups


def owner_slugs(owners: Iterable[str]) -> dict[str, str]:
    """A file-name-safe, unique slug per owner string; '' (no owner) is 'unowned'."""
    names = sorted(set(owners), key=lambda o: (o != "", o))
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for owner in names:
        base = _slug(owner) if owner else UNOWNED
        slug = base
        if slug in taken or (owner and slug == UNOWNED):
            # Different owners can clean up to the same text; a hash keeps them apart.
            digest = hashlib.sha256(owner.encode()).hexdigest()[:8]
            slug = f"{base}-{digest}"
        taken.add(slug)
        slugs[owner] = slug
    return slugs


def _slug(owner: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", owner).encode("ascii", "ignore")
    text = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.decode().lower())
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    return text[:80] or "owner"


# -- rendering ------------------------------------------------------------------


def _html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    script = (TEMPLATES / "report.js").read_text()
    env.globals["inline_script"] = Markup(script)
    env.globals["script_hash"] = _csp_hash(script)
    env.globals["inline_style"] = Markup((TEMPLATES / "report.css").read_text())
    return env


def _csp_hash(script: str) -> str:
    # The page's Content-Security-Policy allows exactly this script and nothing else,
    # so even a string that slipped past escaping could not run or load anything.
    digest = hashlib.sha256(script.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def _markdown_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_md_finalize,
    )
    env.filters["code"] = md_code
    return env


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>()|~&#!])")


def md_text(value: object) -> str:
    """Upstream text made inert in a Markdown table cell or line."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object) -> Markup:
    """Upstream text as a Markdown code span that survives a table cell."""
    text = " ".join(str(value).split())
    if not text:
        return Markup("")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # GFM splits table cells on | before it parses code spans, even inside them.
    body = text.replace("|", "\\|")
    return Markup(f"{fence}{pad}{body}{pad}{fence}")


def _md_finalize(value: object) -> object:
    # Every {{ }} in a Markdown template is escaped unless a filter made it Markup.
    if isinstance(value, Markup | int):
        return value
    return md_text(value)


def _write(path: Path, template: jinja2.Template, context: Context) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template.render(context), encoding="utf-8")
    return path


def _write_owner_files(
    owners_dir: Path, env: jinja2.Environment, context: Context
) -> list[Path]:
    """One Markdown file per owner; files of owners that own nothing now are removed."""
    template = env.get_template("owner.md.j2")
    written = [
        _write(
            owners_dir / f"{owner['slug']}.md", template, {**context, "owner": owner}
        )
        for owner in context["owners"]
    ]
    for stale in set(owners_dir.glob("*.md")) - set(written):
        logger.info("removing %s: its owner owns no image any more", stale)
        stale.unlink()
    return written
