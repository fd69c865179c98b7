"""The HTML report of an evaluation: figures inlined, provenance included, self-checking."""

from headstart.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
