"""Reading back what the bot draws: a PDF's text, and the modules of a QR code in an image.

A QR image is checked by sampling the centre of every module and comparing with the matrix the
`qrcode` library makes for the expected text (same error correction, same quiet zone): equal
matrices mean any scanner reads the expected text.
"""

from __future__ import annotations

import io

import qrcode
from PIL import Image
from pypdf import PdfReader
from qrcode.constants import ERROR_CORRECT_M


def pdf_pages(data: bytes) -> PdfReader:
    """The PDF, checked to be one."""
    assert data.startswith(b"%PDF-"), data[:8]
    return PdfReader(io.BytesIO(data))


def pdf_text(data: bytes) -> str:
    """Every page's text, whitespace collapsed to single spaces."""
    reader = pdf_pages(data)
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules (True: dark) of the QR code for `text`, quiet zone included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def read_modules(image: Image.Image, modules: int) -> list[list[bool]]:
    """The image read as a square grid of `modules` x `modules`, dark where the centre is."""
    grey = image.convert("L")
    width, height = grey.size
    assert abs(width - height) <= 1, (width, height)
    box = width / modules
    return [
        [grey.getpixel((int((x + 0.5) * box), int((y + 0.5) * box))) < 128 for x in range(modules)]
        for y in range(modules)
    ]


def assert_qr_reads(image: Image.Image, text: str) -> None:
    """The image is the QR code of `text`, module for module."""
    expected = qr_matrix(text)
    assert read_modules(image, len(expected)) == expected


def png_image(data: bytes) -> Image.Image:
    """A PNG's image, checked to be a PNG."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data))
