"""Reading (and, for tests, writing) Qt binary resource bundles (`.rcc` files).

gcompris-qt-data keeps its photos inside such bundles. Layout (all integers big-endian):

    header   b"qres", uint32 version, uint32 tree offset, uint32 data offset, uint32 names offset
             (version >= 3 adds a uint32 of flags)
    tree     nodes of 14 bytes (version 1) or 22 bytes (version >= 2, + uint64 modification time):
             uint32 name offset, uint16 flags, then
               directory (flags & 2): uint32 child count, uint32 index of the first child
               file:                  uint16 country, uint16 language, uint32 data offset
    names    uint16 length, uint32 hash, then `length` UTF-16BE code units
    data     uint32 size, then the bytes; zlib entries (flags & 1) begin with a uint32
             uncompressed size before the zlib stream; flags & 4 is zstd.

Node 0 is the root directory; a directory's children are consecutive nodes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ml.data.errors import ArchiveError

DIRECTORY, ZLIB, ZSTD = 2, 1, 4


class ResourceBundle:
    """The files inside one .rcc bundle, by path (e.g. 'gcompris/src/.../fish1.webp')."""

    def __init__(self, blob: bytes, name: str = "bundle.rcc") -> None:
        self.blob = blob
        self.name = name
        if blob[:4] != b"qres" or len(blob) < 20:
            raise ArchiveError(f"{name} is not a Qt resource bundle (no 'qres' header).")
        self.version, self.tree, self.data, self.names = struct.unpack_from(">IIII", blob, 4)
        self.node_size = 14 if self.version == 1 else 22
        self.files: dict[str, tuple[int, int]] = {}  # path -> (flags, data offset)
        try:
            self._walk(0, "")
        except struct.error as exc:
            raise ArchiveError(f"{name} is truncated or damaged ({exc}).") from exc

    def _name(self, offset: int) -> str:
        (length,) = struct.unpack_from(">H", self.blob, self.names + offset)
        start = self.names + offset + 6
        return self.blob[start : start + 2 * length].decode("utf-16-be")

    def _walk(self, index: int, prefix: str) -> None:
        at = self.tree + index * self.node_size
        name_offset, flags = struct.unpack_from(">IH", self.blob, at)
        name = "" if index == 0 else self._name(name_offset)
        path = f"{prefix}/{name}" if prefix else name
        if flags & DIRECTORY:
            count, first = struct.unpack_from(">II", self.blob, at + 6)
            for child in range(first, first + count):
                self._walk(child, path)
        else:
            (data_offset,) = struct.unpack_from(">I", self.blob, at + 10)
            self.files[path] = (flags, data_offset)

    def read(self, path: str) -> bytes:
        """The uncompressed bytes of one file; KeyError when the bundle has no such file."""
        flags, offset = self.files[path.strip("/")]
        (size,) = struct.unpack_from(">I", self.blob, self.data + offset)
        raw = self.blob[self.data + offset + 4 : self.data + offset + 4 + size]
        if flags & ZSTD:
            raise ArchiveError(
                f"{self.name}: {path} is zstd-compressed, which this reader does not support."
            )
        if flags & ZLIB:
            try:
                return zlib.decompress(raw[4:])  # after the uncompressed-size prefix
            except zlib.error as exc:
                raise ArchiveError(f"{self.name}: {path} is damaged ({exc}).") from exc
        return raw


def open_bundle(path: Path) -> ResourceBundle:
    return ResourceBundle(Path(path).read_bytes(), Path(path).name)


def write_bundle(files: dict[str, bytes], *, version: int = 2, compress: bool = True) -> bytes:
    """A bundle holding `files` (path -> bytes), for tests; zlib-compressed when `compress`."""
    root: dict = {}
    for path, content in files.items():
        *dirs, leaf = path.strip("/").split("/")
        node = root
        for part in dirs:
            node = node.setdefault(part, {})
        node[leaf] = content

    # Breadth-first order, so that each directory's children are consecutive nodes.
    order: list[tuple[str, dict | bytes]] = [("", root)]
    first_child: dict[int, int] = {}
    index = 0
    while index < len(order):
        _, value = order[index]
        if isinstance(value, dict):
            first_child[index] = len(order)
            order.extend(sorted(value.items()))
        index += 1

    names, data, tree = bytearray(), bytearray(), bytearray()
    modified = b"\0" * 8 if version >= 2 else b""
    for index, (name, value) in enumerate(order):
        name_offset = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        if isinstance(value, dict):
            tree += struct.pack(">IHII", name_offset, DIRECTORY, len(value), first_child[index])
        else:
            payload = struct.pack(">I", len(value)) + zlib.compress(value) if compress else value
            flags = ZLIB if compress else 0
            tree += struct.pack(">IHHHI", name_offset, flags, 0, 0, len(data))
            data += struct.pack(">I", len(payload)) + payload
        tree += modified
    header_size = 20 if version < 3 else 24
    tree_at, data_at = header_size, header_size + len(tree)
    header = b"qres" + struct.pack(">IIII", version, tree_at, data_at, data_at + len(data))
    if version >= 3:
        header += struct.pack(">I", 0)  # flags
    return header + bytes(tree) + bytes(data) + bytes(names)
