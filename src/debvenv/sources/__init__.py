"""Readers of external Debian formats and the targets built from them."""
