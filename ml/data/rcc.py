"""Qt binary resource bundles (`.rcc` files): list and read their files, and write small ones.

gcompris-qt-data keeps its photos inside such bundles. Layout (integers are big-endian):

    header  b"qres", uint32 format version, uint32 offsets of the tree, data and names sections
            (version >= 3 adds a uint32 of overall flags, which reading does not need)
    tree    one node per file or directory, 14 bytes (version 1) or 22 bytes (version >= 2, which
            appends a uint64 modification time): uint32 name offset, uint16 flags, then
              directory (flags & 2): uint32 child count, uint32 index of its first child
              file:                  uint16 country, uint16 language, uint32 data offset
            node 0 is the root directory; a directory's children are consecutive nodes.
    names   uint16 length, uint32 hash, then `length` UTF-16BE code units
    data    uint32 size, then the bytes; zlib entries (flags & 1) start with a uint32
            uncompressed size before the zlib stream; zstd entries (flags & 4) are a zstd frame.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ml.data.errors import ArchiveError, MissingMemberError

MAGIC = b"qres"
ZLIB, DIRECTORY, ZSTD = 1, 2, 4


@dataclass(frozen=True)
class RccEntry:
    flags: int
    data_offset: int  # relative to the data section

    @property
    def compression(self) -> str | None:
        if self.flags & ZSTD:
            return "zstd"
        return "zlib" if self.flags & ZLIB else None


class RccBundle:
    """The files of one bundle, addressed by their path ('gcompris/src/.../fish1.webp')."""

    def __init__(self, blob: bytes, name: str = "bundle.rcc") -> None:
        self.blob = blob
        self.name = name
        if len(blob) < 20 or blob[:4] != MAGIC:
            raise ArchiveError(f"{name} is not a Qt resource bundle (no 'qres' header)")
        self.version, self._tree, self._data, self._names = struct.unpack_from(">4I", blob, 4)
        self._node_size = 14 if self.version == 1 else 22
        try:
            self.entries = self._walk()
        except (struct.error, UnicodeDecodeError) as exc:
            raise ArchiveError(f"{name} is truncated or damaged ({exc})") from exc

    def files(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self.entries

    def read(self, path: str) -> bytes:
        """The uncompressed bytes of the file at `path`."""
        entry = self.entries.get(path.strip("/"))
        if entry is None:
            raise MissingMemberError(f"{self.name} has no resource {path}")
        start = self._data + entry.data_offset
        (size,) = struct.unpack_from(">I", self.blob, start)
        payload = self.blob[start + 4 : start + 4 + size]
        if len(payload) != size:
            raise ArchiveError(f"{self.name}: {path} is truncated")
        try:
            if entry.compression == "zstd":
                return _zstd_decompress(payload, f"{self.name}: {path}")
            if entry.compression == "zlib":
                return zlib.decompress(payload[4:])  # skip Qt's uncompressed-size prefix
        except zlib.error as exc:
            raise ArchiveError(f"{self.name}: {path} is damaged ({exc})") from exc
        return payload

    def _walk(self) -> dict[str, RccEntry]:
        entries: dict[str, RccEntry] = {}
        pending = [(0, "")]  # (node index, path)
        visited: set[int] = set()
        while pending:
            index, path = pending.pop()
            if index in visited:  # a damaged tree could loop forever
                raise ArchiveError(f"{self.name}: node {index} is reached twice")
            visited.add(index)
            at = self._tree + index * self._node_size
            name_offset, flags = struct.unpack_from(">IH", self.blob, at)
            if index:
                name = self._name(name_offset)
                path = f"{path}/{name}" if path else name
            if flags & DIRECTORY:
                count, first = struct.unpack_from(">II", self.blob, at + 6)
                pending.extend((child, path) for child in range(first, first + count))
            else:
                (data_offset,) = struct.unpack_from(">I", self.blob, at + 10)
                entries[path] = RccEntry(flags, data_offset)
        return entries

    def _name(self, offset: int) -> str:
        start = self._names + offset
        (length,) = struct.unpack_from(">H", self.blob, start)
        raw = self.blob[start + 6 : start + 6 + 2 * length]  # after length and hash
        if len(raw) != 2 * length:
            raise struct.error("a name runs past the end of the file")
        return raw.decode("utf-16-be")


def _zstd_decompress(payload: bytes, what: str) -> bytes:
    try:
        import zstandard  # optional: no Debian bundle listed in the manifest uses zstd
    except ImportError:
        raise ArchiveError(
            f"{what} is zstd-compressed, which is unsupported without the 'zstandard' module"
        ) from None
    try:
        # A stream decompressor also copes with frames that do not record their content size.
        return zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    except zstandard.ZstdError as exc:
        raise ArchiveError(f"{what} is damaged ({exc})") from exc


def qt_hash(name: str) -> int:
    """The hash Qt stores with each name (qt_hash over UTF-16 code units)."""
    h = 0
    units = name.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (h << 4) + int.from_bytes(units[i : i + 2], "big")
        h ^= (h & 0xF0000000) >> 23
        h &= 0x0FFFFFFF
    return h


def write_rcc(files: dict[str, bytes], compress: bool, *, version: int = 3) -> bytes:
    """A bundle holding `files` (path -> bytes), as Qt's rcc tool lays it out; for tests.

    With `compress`, each file is stored zlib-compressed only when that makes it smaller, as rcc
    does (so JPEG/WebP photos usually stay plain while text or BMP data is compressed).
    """
    tree: dict = {}
    for path, content in files.items():
        *folders, leaf = path.strip("/").split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = content

    # Breadth-first, so that each directory's children are consecutive; rcc sorts them by hash.
    order: list[tuple[str, dict | bytes]] = [("", tree)]
    first_child: dict[int, int] = {}
    for index, (_, value) in enumerate(order):  # `order` grows while it is walked
        if isinstance(value, dict):
            first_child[index] = len(order)
            order.extend(sorted(value.items(), key=lambda item: qt_hash(item[0])))

    nodes, data, names = bytearray(), bytearray(), bytearray()
    for index, (name, value) in enumerate(order):
        name_offset = len(names)
        if index:  # the root has no name
            names += struct.pack(">HI", len(name.encode("utf-16-be")) // 2, qt_hash(name))
            names += name.encode("utf-16-be")
        if isinstance(value, dict):
            nodes += struct.pack(">IHII", name_offset, DIRECTORY, len(value), first_child[index])
        else:
            flags, payload = 0, value
            packed = struct.pack(">I", len(value)) + zlib.compress(value, 9)
            if compress and len(packed) < len(value):
                flags, payload = ZLIB, packed
            nodes += struct.pack(">IHHHI", name_offset, flags, 0, 0, len(data))
            data += struct.pack(">I", len(payload)) + payload
        if version >= 2:
            nodes += struct.pack(">Q", 0)  # modification time: unknown

    header_size = 24 if version >= 3 else 20
    tree_at = header_size
    data_at = tree_at + len(nodes)
    names_at = data_at + len(data)
    header = MAGIC + struct.pack(">4I", version, tree_at, data_at, names_at)
    if version >= 3:
        header += struct.pack(">I", 0)  # overall flags: none
    return header + bytes(nodes) + bytes(data) + bytes(names)
