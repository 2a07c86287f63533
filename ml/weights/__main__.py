"""python -m ml.weights list | fetch [KEY ...] | import PATH --model KEY"""

from __future__ import annotations

import sys

import ml  # noqa: F401  (loads the catalogue, which registers every weights file)
from ml.errors import WeightsFetchError
from ml.weights.install import describe, fetch_many, import_file


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ml.weights", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="known weight files and whether they are installed")
    fetch_cmd = commands.add_parser("fetch", help="download official weights (all when no KEY)")
    fetch_cmd.add_argument("keys", nargs="*", metavar="KEY")
    fetch_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    import_cmd = commands.add_parser("import", help="install a local weights file")
    import_cmd.add_argument("path")
    import_cmd.add_argument("--model", required=True, metavar="KEY", help="weights key")
    args = parser.parse_args(argv)

    if args.command == "list":
        for row in describe():
            where = row["installed"] or "not installed"
            print(f"{row['key']:<24} {row['kind']:<12} {row['file']:<40} {where}")
        return 0
    if args.command == "fetch":
        return 1 if fetch_many(args.keys, progress=not args.quiet) else 0
    try:
        path = import_file(args.path, args.model)
    except WeightsFetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model}: installed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
