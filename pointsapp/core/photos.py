"""Photos people upload (a product's picture, a claim's evidence): read safely, turned upright, resized,
saved as JPEG with no metadata (EXIF, GPS, camera serials are dropped: a claim's photo of a hallway must not
tell where the claimant lives), and hashed perceptually so the same photo sent twice can be recognised.

The size is read from the file's header before anything is decoded: a 12000x12000 PNG of a few hundred KB
would take hundreds of MB to open."""
import io
import warnings
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import InvalidInput

MAX_BYTES = 8 * 1024 * 1024  # a phone photo is 2-6 MB
# More than any phone camera gives (12-50 MP), far less than what would exhaust a worker when decoded
# (a 12000x12000 PNG: 144 MP, 432 MB as RGB). Also PIL's own bomb guard, for any path that skips ours.
MAX_MEGAPIXELS = 40
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")


@dataclass(frozen=True)
class Photo:
    content: bytes  # JPEG, no metadata
    width: int
    height: int


def _unreadable() -> InvalidInput:
    return InvalidInput(_l("This file is not a photo we can read (use JPEG or PNG)."), code="invalid_photo")


def resized(data: bytes, max_pixels: int, *, max_megapixels: int = MAX_MEGAPIXELS, max_bytes: int = MAX_BYTES,
            upright: bool = True) -> Photo:
    """The photo at most `max_pixels` on its longer side, as a JPEG without metadata, turned as the camera held
    it (`upright`, from the EXIF orientation, which is then dropped with the rest).
    Raises invalid_photo, photo_too_large."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data or len(data) > max_bytes:
        raise InvalidInput(_l("The photo must be an image file of at most %(mb)d MB."), code="invalid_photo",
                           mb=max_bytes // (1024 * 1024))
    too_large = InvalidInput(_l("This photo has more than %(mp)d megapixels. Please send a smaller photo "
                                "(a phone photo is about 12 megapixels)."), code="photo_too_large", mp=max_megapixels)
    try:
        with warnings.catch_warnings():
            # PIL warns from 89 MP and refuses from 179 MP (its guard stays on): below that, our limit decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # lazy: reads the header only
    except Image.DecompressionBombError as exc:
        raise too_large from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise _unreadable() from exc
    with image:
        width, height = image.size
        if width * height > max_megapixels * 1_000_000:
            raise too_large
        try:
            if image.format == "JPEG":
                image.draft("RGB", (max_pixels, max_pixels))  # decode at 1/2, 1/4 or 1/8 scale
            picture = ImageOps.exif_transpose(image) if upright else image
            picture.thumbnail((max_pixels, max_pixels))
            picture = picture.convert("RGB")
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=82, optimize=True)  # no exif=, no icc_profile=: no metadata
        except (Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
            raise _unreadable() from exc
    return Photo(out.getvalue(), picture.width, picture.height)


def perceptual_hash(content: bytes) -> str:
    """imagehash's pHash of a (resized) photo, 16 hex digits: the same picture re-saved, resized or lightly
    recompressed hashes alike (a Hamming distance of a few bits)."""
    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(content)) as image:
        return str(imagehash.phash(image))


def hash_distance(a: str, b: str) -> int:
    """Bits that differ between two hashes of perceptual_hash()."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")
