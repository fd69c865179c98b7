"""File names as text: Python keeps undecodable bytes of a file name as lone surrogates,
which every later encode (hashing ids, Parquet, CSV) rejects."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` as valid UTF-8, undecodable bytes shown as \\xNN escapes (else unchanged)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
