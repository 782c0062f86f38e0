"""Models use only the extensions; never request, url_for, services or views."""
from .accounts import Role, RoleGrant, Store, Team, User
from .imports import ImportJob
from .tree import Building, Community, Grid, Household, Resident, Subdistrict

__all__ = [
    "Building", "Community", "Grid", "Household", "ImportJob", "Resident", "Role", "RoleGrant",
    "Store", "Subdistrict", "Team", "User",
]
