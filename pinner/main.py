"""The command line: parse arguments, dispatch to a command, turn errors into exit codes."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from pinner import __version__
from pinner.errors import PinnerError, UsageError
from pinner.registry import Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPT = 0, 1, 2, 3, 130


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def _parser() -> argparse.ArgumentParser:
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

    parser = argparse.ArgumentParser(
        prog="pinner",
        description="Make container builds reproducible: pin images to digests, with a lockfile.",
    )
    parser.add_argument("--version", action="version", version=f"pinner {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    lock = commands.add_parser(
        "lock",
        parents=[common, network],
        help="pin every image reference and write the lockfile",
        description="Resolve each image tag to its digest, rewrite the Dockerfile in place"
        " and write <Dockerfile>.lock beside it.",
    )
    lock.add_argument("--dry-run", action="store_true", help="print a unified diff, write nothing")
    commands.add_parser(
        "check",
        parents=[common],
        help="offline: fail when anything is unpinned or disagrees with the lock",
        description="Offline. Exit 0 when all is pinned and agrees with the lock, else 1.",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    mirrors = {}
    for host, url in args.registry_mirror:
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"--registry-mirror {host}={url}: URL must start with http:// or https://"
            )
        mirrors["docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host] = url
    return Settings(mirrors=mirrors, insecure=frozenset(args.insecure_registry))


def _dispatch(args: argparse.Namespace) -> int:
    build_args = dict(args.build_arg)
    if args.command == "lock":
        from pinner.commands.lock import lock

        return lock(
            paths=args.paths,
            build_args=build_args,
            settings=_settings(args),
            dry_run=args.dry_run,
            as_json=args.as_json,
            quiet=args.quiet,
            exclude=args.exclude,
        )
    if args.command == "check":
        from pinner.commands.check import check

        return check(
            paths=args.paths,
            build_args=build_args,
            as_json=args.as_json,
            quiet=args.quiet,
            exclude=args.exclude,
        )
    raise AssertionError(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run pinner; return the exit code (0 ok, 1 failure, 2 usage, 3 bug, 130 interrupted)."""
    parser = _parser()
    args = parser.parse_args(argv)
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
