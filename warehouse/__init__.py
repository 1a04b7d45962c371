"""The warehouse: a DuckLake (catalog database plus Parquet files). lake.py says where it is, connect.py
opens it, read.py and write.py are the only code that reads and writes it, upkeep.py keeps it tidy,
upgrade.py imports a single-file warehouse of an earlier version, shell.py is `make sql`; sql/ holds its
schema."""

from __future__ import annotations

from typing import Any

from warehouse.lake import WarehouseBusy, WarehouseError, WriteConflict


def __getattr__(name: str) -> Any:
    """open_warehouse, imported on first use: `make sql` (warehouse.shell) then starts without DuckDB."""
    if name == "open_warehouse":
        from warehouse.connect import open_warehouse

        return open_warehouse
    raise AttributeError(f"module 'warehouse' has no attribute {name!r}")


__all__ = ["WarehouseBusy", "WarehouseError", "WriteConflict", "open_warehouse"]
