"""Backups and restore: `flask backup` (SQLite online backup API, pg_dump for PostgreSQL) with a
retention count, and `flask restore` into an empty database, checked like `flask ledger verify`."""
