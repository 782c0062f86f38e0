"""Pages: a user's API tokens (/me/tokens) and a community's (/admin/c/<id>/tokens)."""
from flask import Blueprint

bp = Blueprint("tokens", __name__)
