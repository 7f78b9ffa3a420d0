"""Fixtures shared across the test modules."""

# signed_archive.py: throwaway signing keys (one per session) and a loopback HTTP server.
from signed_archive import (  # noqa: F401 - imported to register the fixtures
    expired_signing_key,
    other_signing_key,
    serve_http,
    signing_key,
)
