"""python -m ml.data photos [--out photos] [--cache var/photo-cache] [--manifest FILE]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ml.data.errors import PhotoSetError
from ml.data.photoset import DEFAULT_MANIFEST, SPLITS, build_photo_set


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    photos = commands.add_parser("photos", help="build the offline photo set (train/ and val/)")
    photos.add_argument("--out", type=Path, default=Path("photos"))
    photos.add_argument("--cache", type=Path, default=Path("var/photo-cache"))
    photos.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    photos.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    photos.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    splits = SPLITS if args.split == "all" else (args.split,)
    try:
        report = build_photo_set(
            args.out, manifest=args.manifest, cache=args.cache, splits=splits,
            progress=not args.quiet,
        )  # fmt: skip
    except PhotoSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
