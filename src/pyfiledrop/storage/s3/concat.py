"""Which parts a tus final upload is made of, on S3 storage (`S3Storage.concat` makes them).

The store can copy a byte range of an object into a part by itself (UploadPartCopy), so the bytes
of a large source never pass through the server. But one part is one range of one object, and
every part but the last must be at least 5 MiB: a source smaller than that, and the bit of a
large source that must join it, are downloaded and sent together as one part (gathered, as
staged small chunks are). `plan` copies as much as these rules allow and gathers the rest; a
gathered part holds less than twice the minimum, so memory stays bounded whatever the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

COPY_SPAN = 512 << 20  # most bytes of one copied part: 10,000 of them reach S3's 5 TiB object limit


@dataclass(frozen=True)
class Piece:
    """Bytes `start` to `end` (exclusive) of source number `source`."""

    source: int
    start: int
    end: int


@dataclass(frozen=True)
class Part:
    """One part of the final upload: its pieces in order. A copied part is one piece that the
    store copies; the pieces of any other part are downloaded and uploaded as one body."""

    pieces: tuple[Piece, ...]
    copied: bool

    @property
    def size(self) -> int:
        return sum(p.end - p.start for p in self.pieces)


def plan(sizes: list[int], min_part: int, max_copy: int) -> list[Part]:
    """The parts, in order, of the concatenation of sources of these sizes.

    Every part but the last holds at least `min_part` bytes; a copied part at most `max_copy`
    (which must be at least twice `min_part`).
    """
    parts: list[Part] = []
    held: list[Piece] = []  # waiting to be gathered into the next part: always < min_part bytes

    def gather() -> None:
        parts.append(Part(tuple(held), copied=False))
        held.clear()

    for source, size in enumerate(sizes):
        start = 0
        short = min_part - sum(p.end - p.start for p in held)
        if held and size - short >= min_part:  # top the held pieces up, copy the rest
            held.append(Piece(source, 0, short))
            gather()
            start = short
        if not held and size - start >= min_part:
            count = -(-(size - start) // max_copy)
            bounds = [start + (size - start) * i // count for i in range(count + 1)]
            parts += [Part((Piece(source, a, b),), copied=True) for a, b in pairwise(bounds)]
        elif size > start:
            held.append(Piece(source, start, size))
            if sum(p.end - p.start for p in held) >= min_part:
                gather()
    if held:
        gather()
    return parts
