"""Pages: a community's webhooks (/admin/c/<id>/webhooks), their delivery log, redelivery."""
from flask import Blueprint

bp = Blueprint("webhooks", __name__)
