"""QR images made on the server (SVG: sharp on a projector and in print, tiny over the wire)."""
import qrcode
import qrcode.image.svg
from flask import current_app


def svg(data: str, *, border: int = 2) -> bytes:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="utf-8")


def svg_response(data: str):
    return current_app.response_class(svg(data), mimetype="image/svg+xml",
                                      headers={"Cache-Control": "no-store"})
