"""/api/v1/docs: the API's reference, rendered in the browser from /api/v1/openapi.json by Swagger UI
(vendored in static/vendor/swagger-ui/; no CDN). Public, like the document itself."""
from flask import Blueprint, render_template

from pointsapp.core.permissions import PUBLIC, policy

bp = Blueprint("api_reference", __name__)


@bp.route("/api/v1/docs")
@policy(PUBLIC)
def docs():
    # Swagger UI runs under the app's Content-Security-Policy unchanged: its script and stylesheet are our
    # static files, it is started by static/js/api-docs.js (no inline script), it sets styles only through
    # the DOM (which style-src does not govern), uses no worker and fetches only the document (connect-src
    # 'self'); the validator badge, which would load an image from swagger.io, is turned off there.
    return render_template("api/docs.html")
