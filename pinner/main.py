"""The command line: parse arguments, dispatch to a command, turn errors into exit codes."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from pinner import __version__
from pinner.engine import Options
from pinner.errors import PinnerError, UsageError
from pinner.registry import Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPT = 0, 1, 2, 3, 130


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="Dockerfiles or directories (default: ./Dockerfile)",
    )
    common.add_argument(
        "--build-arg",
        action="append",
        type=_key_value,
        default=[],
        metavar="NAME=VALUE",
        help="override an ARG default, as docker build does (repeatable)",
    )
    common.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths matching GLOB when walking a directory (repeatable)",
    )
    common.add_argument(
        "--json", action="store_true", dest="as_json", help="machine-readable output on stdout"
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no notices on stderr, only errors"
    )
    return common


def _network() -> argparse.ArgumentParser:
    network = argparse.ArgumentParser(add_help=False)
    network.add_argument(
        "--registry-mirror",
        action="append",
        type=_key_value,
        default=[],
        metavar="HOST=URL",
        help="send requests for registry HOST to URL, a mirror that keeps paths (repeatable)",
    )
    network.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="use plain HTTP for HOST (repeatable; loopback always is)",
    )
    network.add_argument(
        "--snapshot",
        metavar="TIME",
        help="snapshot time YYYYMMDDTHHMMSSZ, or 'base' for the base image's own"
        " (default: the lock's, else now)",
    )
    network.add_argument(
        "--snapshot-mirror",
        action="append",
        type=_key_value,
        default=[],
        metavar="DISTRO=URL",
        help="serve debian or ubuntu snapshots from URL instead of the public host (repeatable)",
    )
    network.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH",
        help="platforms whose packages to lock (repeatable; default linux/amd64)",
    )
    network.add_argument(
        "--pin-versions",
        action="store_true",
        help="also write name=version into apt install commands",
    )
    network.add_argument(
        "--images-only",
        action="store_true",
        help="pin image references only: no snapshots, SOURCE_DATE_EPOCH or syntax line",
    )
    return network


def _parser() -> argparse.ArgumentParser:
    common, network = _common(), _network()
    parser = argparse.ArgumentParser(
        prog="pinner",
        description="Make container builds reproducible: pin images to digests, packages to"
        " dated snapshots, timestamps to SOURCE_DATE_EPOCH; record it all in a lockfile.",
    )
    parser.add_argument("--version", action="version", version=f"pinner {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    lock = commands.add_parser(
        "lock",
        parents=[common, network],
        help="pin everything and write the lockfile",
        description="Resolve each image tag to its digest and each apt package to its snapshot"
        " version; rewrite the Dockerfile in place and write <Dockerfile>.lock beside it.",
    )
    lock.add_argument("--dry-run", action="store_true", help="print a unified diff, write nothing")
    commands.add_parser(
        "check",
        parents=[common],
        help="offline: fail when anything is unpinned or disagrees",
        description="Offline. Exit 0 when all is pinned and agrees with the lock, else 1.",
    )
    commands.add_parser(
        "build-args",
        parents=[common],
        help="print the --build-arg flags the lock asks for",
        description="Print the --build-arg flags that make a build of the locked Dockerfile"
        " reproducible, one per line, for scripts.",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    mirrors = {}
    for host, url in args.registry_mirror:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--registry-mirror {host}={url}: URL must start with http(s)://")
        mirrors["docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host] = url
    return Settings(mirrors=mirrors, insecure=frozenset(args.insecure_registry))


def _options(args: argparse.Namespace) -> Options:
    mirrors = dict(args.snapshot_mirror)
    unknown = sorted(set(mirrors) - {"debian", "ubuntu"})
    if unknown:
        raise UsageError(f"--snapshot-mirror {unknown[0]}=...: mirrors are for debian or ubuntu")
    return Options(
        snapshot=args.snapshot,
        snapshot_mirrors=mirrors,
        pin_versions=args.pin_versions,
        platforms=tuple(args.platform),
        images_only=args.images_only,
    )


def _dispatch(args: argparse.Namespace) -> int:
    build_args = dict(args.build_arg)
    common = {
        "paths": args.paths,
        "build_args": build_args,
        "as_json": args.as_json,
        "quiet": args.quiet,
        "exclude": args.exclude,
    }
    if args.command == "lock":
        from pinner.commands.lock import lock

        return lock(
            settings=_settings(args), options=_options(args), dry_run=args.dry_run, **common
        )
    if args.command == "check":
        from pinner.commands.check import check

        return check(**common)
    if args.command == "build-args":
        from pinner.commands.build_args import build_args as print_build_args

        return print_build_args(**common)
    raise AssertionError(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run pinner; return the exit code (0 ok, 1 failure, 2 usage, 3 bug, 130 interrupted)."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as e:
        print(f"pinner: {e}", file=sys.stderr)
        return EXIT_USAGE
    except PinnerError as e:
        print(e, file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("pinner: interrupted", file=sys.stderr)
        return EXIT_INTERRUPT
    except Exception:
        traceback.print_exc()
        print(
            f"pinner {__version__}: this is a bug; please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
