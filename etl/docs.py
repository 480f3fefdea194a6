"""The table reference, generated from the schema's own column comments."""

from __future__ import annotations

import tempfile
from pathlib import Path

from etl.warehouse import LOAD_POLICY, Warehouse

STAMP_COLUMNS = ("source", "scope", "sweep_id")
STAMP_NOTE = (
    "Every raw table but sweeps also has `source`, `scope` and `sweep_id`: the source "
    "kind, the scope and the sweep that loaded the row.\n"
)


def table_reference(db_path: Path | None = None) -> str:
    """Markdown describing every raw table and column, from sql/schema's comments."""
    if db_path is not None and db_path.exists():
        wh = Warehouse(db_path, read_only=True)
    else:
        wh = Warehouse(Path(tempfile.mkdtemp()) / "schema.duckdb")
    try:
        out = []
        for table in ["sweeps", *LOAD_POLICY]:
            comment = wh.con.execute(
                "SELECT comment FROM duckdb_tables() WHERE table_name = ?", [table]
            ).fetchone()
            out.append(f"## {table}\n\n{comment[0] if comment else ''}\n")
            out.append("| column | type | meaning |\n|---|---|---|")
            for name, dtype, text in wh.con.execute(
                "SELECT column_name, data_type, coalesce(comment, '') "
                "FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
                "ORDER BY column_index",
                [table],
            ).fetchall():
                if table != "sweeps" and name in STAMP_COLUMNS:
                    continue
                out.append(f"| `{name}` | {dtype} | {text} |")
            out.append("")
        out.append(STAMP_NOTE)
        return "\n".join(out)
    finally:
        wh.close()
