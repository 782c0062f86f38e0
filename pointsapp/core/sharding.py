"""The path past one database: Citus, sharded by community (docs/deploy.md, "Past one database").

A community (社区) is the tenant boundary: nearly every row belongs to one, and nearly every request
reads and writes one community's rows. So on Citus the rows are distributed by `community_id`, and one
community's rows of every table live together on one worker (co-located), where its joins, locks and
transactions stay. This module is the one list of which table becomes what; tests/test_sharding_ready.py
checks it against the models, so a new table must be placed here and a new gap is seen.

Nothing here runs: the app does not need Citus, and the current schema is not yet Citus-ready (see
KNOWN_GAPS). It records the plan and keeps it true.
"""

DISTRIBUTION_COLUMN = "community_id"

# Small, city-wide, read everywhere, written rarely: copied to every worker, joinable with any shard.
REFERENCE_TABLES = frozenset({
    "subdistrict",  # 街道: a handful per city
    "community",  # the tenants themselves (hundreds)
    "user",  # logins: one phone number may serve two communities (staff), looked up before any community is known
    "role_grant",  # who may do what where; read on every request, city-wide grants have no community
})

# Kept on the coordinator (Citus "local table added to metadata"): written on every request (a login's
# last-seen time), which a reference table would make a write on every worker.
COORDINATOR_TABLES = frozenset({
    "login_session",
    "api_token",  # looked up by its hash before any community is known; its last use written as it is used
    "idempotency_record",  # one per unsafe API request, keyed by the client (a user or a token), not a community
})


def distributed_tables(table_names) -> set[str]:
    """Every other table is distributed by community_id."""
    return set(table_names) - REFERENCE_TABLES - COORDINATOR_TABLES


# What the current schema still lacks for Citus; the test fails on any gap not listed here, and on a listed
# gap that was closed (so the list shrinks as the work is done).
KNOWN_GAPS = {
    # Citus requires the distribution column in every PRIMARY KEY and UNIQUE constraint of a distributed
    # table. Every unique constraint already includes community_id; the primary keys do not: on Citus they
    # become (community_id, id) (and (community_id, resident_id) / (community_id, product_id)).
    "primary_key_without_community_id": frozenset({
        "activity", "attendance", "audit_event", "award_request", "building", "catalogue_item", "claim", "claim_event",
        "claim_photo", "deduction", "org_group", "org_group_member", "outbox_event", "counter_identification", "earning_total",
        "evaluation", "grid", "honour_entry", "honour_list", "household", "import_job", "label",
        "ledger_checkpoint", "ledger_entry", "ledger_export", "objection", "points_account", "points_query", "product",
        "product_photo", "redemption", "counter_guess", "redemption_line", "resident", "signup", "star_result", "star_rule_set",
        "star_veto", "stock_movement", "stocktake", "stocktake_line", "store", "team", "team_member",
        "webhook_attempt", "webhook_delivery", "webhook_endpoint",
    }),
    # The distribution column must never be NULL: the audit log's city-wide events (a city admin granted)
    # have none. On Citus they move to a reference table of their own (or community 0, a "city" tenant).
    "nullable_community_id": frozenset({"audit_event"}),
    # A reference table cannot refer to a distributed one: these foreign keys are dropped on Citus and the
    # services keep them (they already check the community of what they link).
    "reference_to_distributed_foreign_key": frozenset({
        "api_token.store_id -> store", "user.resident_id -> resident", "role_grant.store_id -> store", "role_grant.team_id -> team",
    }),
}

# Ids that are bigint (int8) today. Citus hands each worker its own range of a bigint sequence (inserts on
# any node); with int4 ids inserts must go through the coordinator, and a busy table runs out at 2.1 billion.
# The rest are int4: fine for one database for decades at a city's volume (docs/deploy.md has the
# arithmetic), to be widened (ALTER COLUMN … TYPE bigint, a table rewrite) before sharding.
BIGINT_IDS = frozenset({"ledger_entry", "audit_event"})
