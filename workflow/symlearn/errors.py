"""The one base class of every error that bad input raises (a configuration, a data or
checkpoint file, a download, a grid, a table, a scheduler setting). The command line
catches it once and prints its message as one line with exit code 2; any other
exception is a bug and keeps its traceback. Torch-free, so anything may import it."""

from __future__ import annotations


class SymlearnError(Exception):
    """Bad input, explained in the message (which names the file, key or field)."""


class CheckpointError(SymlearnError, ValueError):
    """A checkpoint cannot be read, or is not what the step needs (another family, a
    phase without the head asked for); the message names the file."""


class DataError(SymlearnError, ValueError):
    """A data file is unreadable, lacks a field or holds a non-finite value; the message
    names the file, the frame (or event) and the field."""


class ConfigError(SymlearnError, ValueError):
    """The configuration is invalid; the message lists every problem by key."""
