"""Kho: an OAIS digital preservation repository."""
__version__ = "0.1.0"
