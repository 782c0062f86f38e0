"""Models use only the extensions; never request, url_for, services or views."""
from .accounts import Role, RoleGrant, Store, Team, User
from .activities import Activity, Attendance, Label, Signup, TeamMember
from .imports import ImportJob
from .ledger import EARNING_KINDS, EntryKind, LedgerCheckpoint, LedgerEntry, PointsAccount
from .rankings import EarningTotal
from .stars import Evaluation, HonourEntry, HonourList, Objection, StarResult, StarRuleSet, StarVeto
from .store import (
    Product,
    ProductPhoto,
    Redemption,
    RedemptionLine,
    StockMovement,
    Stocktake,
    StocktakeLine,
)
from .tree import Building, Community, Grid, Household, Resident, Subdistrict

__all__ = [
    "Evaluation", "HonourEntry", "HonourList", "Objection", "StarResult", "StarRuleSet", "StarVeto",
    "EarningTotal",
    "Product", "ProductPhoto", "Redemption", "RedemptionLine", "StockMovement", "Stocktake", "StocktakeLine",
    "Activity", "Attendance", "Label", "Signup", "TeamMember",
    "EARNING_KINDS", "Building", "Community", "EntryKind", "Grid", "Household", "ImportJob", "LedgerCheckpoint",
    "LedgerEntry", "PointsAccount", "Resident", "Role", "RoleGrant",
    "Store", "Subdistrict", "Team", "User",
]
