"""Cut one database out of an ``--all-databases`` dump, streaming.

``mariadb-dump --all-databases`` writes each database as a section that starts with the comment
block ``-- Current Database: `name` `` followed by ``CREATE DATABASE ... ; USE `name`;``, and after all
databases a second pass of sections (``USE`` only) with the final view definitions. The header before
the first section sets the session up (character set, time zone, SQL mode, checks off): it is kept.

Why not ``mariadb --one-database``: it keeps statements by the *current default database*, so the
``CREATE DATABASE`` that precedes ``USE`` in each section is dropped (the restore fails on a server
without that database), and it has no notion of the dump's sections. Filtering on the dump's own
section markers keeps ``CREATE DATABASE``, tables, routines, events, triggers and the late views.

Limit: a routine, trigger or view body that itself contains a line starting with
``-- Current Database: `` would be taken for a marker. mariadb-dump writes row data one statement per
line (newlines inside values are escaped), so table data cannot trigger it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

_MARKER = b"-- Current Database: `"
# Lines longer than this are passed on in pieces (a huge extended INSERT or BLOB row), so memory
# stays bounded; only a piece that starts a line can be a marker.
_PIECE = 1 << 20
# Pieces are gathered into writes of about this size for the client pipe.
_BATCH = 1 << 20


class DatabaseSection:
    """Iterate ``chunks()`` to get the header plus every section of ``name``; ``found`` says if any matched."""

    def __init__(self, dump: BinaryIO, name: str) -> None:
        self._dump = dump
        self._wanted = _MARKER + name.replace("`", "``").encode() + b"`\n"
        self.found = False

    def chunks(self) -> Iterator[bytes]:
        keep, at_line_start = True, True
        batch = bytearray()
        while piece := self._dump.readline(_PIECE):
            if at_line_start and piece.startswith(_MARKER):
                keep = piece == self._wanted
                self.found |= keep
            at_line_start = piece.endswith(b"\n")
            if keep:
                batch += piece
                if len(batch) >= _BATCH:
                    yield bytes(batch)
                    batch.clear()
        if batch:
            yield bytes(batch)
