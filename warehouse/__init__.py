"""The warehouse: a DuckLake (catalog database plus Parquet files). connect.py opens it, read.py and
write.py are the only code that reads and writes it, upkeep.py keeps it tidy, sql/ holds its schema."""

from warehouse.connect import WarehouseBusy, WarehouseError, WriteConflict, open_warehouse

__all__ = ["WarehouseBusy", "WarehouseError", "WriteConflict", "open_warehouse"]
