"""access room: IIIF Image service and the page-image derivatives it serves from.

Public surface: :class:`ImageSource` (what a resolver returns for an image id),
:func:`ensure_derivative` (ingest may build access copies ahead of time) and
:class:`ImageService` (info.json and rendered images, used by the web door).
"""
from repository.access.derivatives import ImageSource, ensure_derivative
from repository.access.image_request import (ImageRequest, InvalidImageRequest, Limits,
                                             UnsupportedImageRequest, parse_image_request)
from repository.access.image_service import ImageService, RenderedImage

__all__ = ["ImageSource", "ensure_derivative", "ImageRequest", "InvalidImageRequest", "Limits",
           "UnsupportedImageRequest", "parse_image_request", "ImageService", "RenderedImage"]
