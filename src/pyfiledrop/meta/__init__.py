"""Metadata stores: where uploads, their chunks and the claims on them are recorded."""

from __future__ import annotations


class OpenError(Exception):
    """The store named in the settings cannot be opened (a bad URL, a server that does not
    answer, wrong credentials); the message says why, for the person starting the server."""
