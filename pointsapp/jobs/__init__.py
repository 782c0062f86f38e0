"""Background jobs and schedules (issue 13): `flask jobs …` (jobs/cli.py) over the job queue in
core/queue.py, and the one periodic job no other feature owns, the nightly backup.

The schedule, China time (each feature registers its own jobs in its cli module; `flask jobs schedule`
lists them):

| China time   | job               | registered in   | the same by hand                       |
|--------------|-------------------|-----------------|----------------------------------------|
| every minute | webhooks_deliver  | integrations/cli.py | flask webhooks deliver             |
| every 10 min | imports_waiting   | imports/cli.py  | flask imports run                      |
| every 10 min | exports_waiting   | ledger/cli.py   | flask ledger run-exports               |
| 01:00        | sheet_purge       | imports/cli.py  | flask imports purge                    |
| 01:00        | export_purge      | ledger/cli.py   | (export files older than 3 days)       |
| 01:15        | idempotency_purge | integrations/cli.py | (Idempotency-Key records over a day) |
| 01:30        | retention         | tree/cli.py     | flask tree retention                   |
| 02:00        | ledger_expiry     | ledger/cli.py   | flask ledger expire                    |
| 03:00        | ledger_checkpoint | ledger/cli.py   | flask ledger checkpoint                |
| 03:30        | backup            | jobs/cli.py     | pointsapp.backups.services.take_backup |
"""
