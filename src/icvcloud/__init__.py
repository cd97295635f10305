"""icvcloud: an open-source vehicle–road–cloud platform."""

__version__ = "0.1.0"
