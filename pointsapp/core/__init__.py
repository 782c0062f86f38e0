"""What every feature shares: the clock, local time, database setup, locks, the unit of work,
periods, errors and edge helpers. Nothing here imports a feature."""
