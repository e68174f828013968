"""The one base class of every error that bad input raises (a configuration, a data or
checkpoint file, a download, a grid, a table, a scheduler setting). The command line
catches it once and prints its message as one line with exit code 2; any other
exception is a bug and keeps its traceback. Torch-free, so anything may import it."""

from __future__ import annotations


class SymlearnError(Exception):
    """Bad input, explained in the message (which names the file, key or field)."""
