"""debvenv: which Python requirements Debian already satisfies, and a venv for the rest."""

__version__ = "0.1.0"
