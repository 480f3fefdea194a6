"""The table reference, generated from the schema's own column comments."""

from __future__ import annotations

import tempfile
from pathlib import Path

from etl.warehouse import LOAD_POLICY, Warehouse


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
                "FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                [table],
            ).fetchall():
                out.append(f"| `{name}` | {dtype} | {text} |")
            out.append("")
        return "\n".join(out)
    finally:
        wh.close()
