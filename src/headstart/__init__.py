"""headstart: turn pretrained representations into recognizers with few or no labels."""

__version__ = "0.1.0"
