"""The command line: parse arguments, dispatch to a command, turn errors into exit codes."""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import math
import os
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from pinner import DEFAULT_TIMEOUT, __version__
from pinner.errors import PinnerError, UsageError
from pinner.output import MAX_LINE, print_json_failure, untrusted

# Each command imports what it needs when it runs: --version, --help and the offline commands
# never import httpx or asyncio (half of a bare start's time).
if TYPE_CHECKING:
    from pinner.commands.run import Run
    from pinner.config import Config
    from pinner.outcome import Options
    from pinner.remote.registry import Settings
    from pinner.workspace import Reading, Selection

EXIT_FAIL, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPT = 1, 2, 3, 130


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def _repeatable(
    parser: argparse.ArgumentParser,
    flag: str,
    metavar: str,
    help: str,
    type: Callable[[str], object] = str,
) -> None:
    """Add an option that may be given again and again, its values gathered in a list."""
    parser.add_argument(flag, action="append", type=type, default=[], metavar=metavar, help=help)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="Dockerfiles or directories (default: ./Dockerfile)",
    )
    _repeatable(
        common,
        "--build-arg",
        "NAME=VALUE",
        "override an ARG default, as docker build does (repeatable)",
        type=_key_value,
    )
    _repeatable(
        common,
        "--exclude",
        "GLOB",
        "skip paths matching GLOB when walking a directory (repeatable)",
    )
    common.add_argument(
        "--json", action="store_true", dest="as_json", help="machine-readable output on stdout"
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no notices on stderr, only errors"
    )
    return common


def _registry() -> argparse.ArgumentParser:
    registry = argparse.ArgumentParser(add_help=False)
    _repeatable(
        registry,
        "--registry-mirror",
        "HOST=URL",
        "send requests for registry HOST to URL, a mirror that keeps paths (repeatable)",
        type=_key_value,
    )
    _repeatable(
        registry,
        "--insecure-registry",
        "HOST",
        "use plain HTTP for HOST (repeatable; loopback always is)",
    )
    registry.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up on a request, body included, after SECONDS (default {DEFAULT_TIMEOUT:g})",
    )
    return registry


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 86400, got {text!r}")
    return value


def _mirror_url(option: str, key: str, url: str) -> str:
    """A mirror URL, checked: http(s), a host, no credentials (the URL is written into files)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts, host = None, None
    shown = untrusted(_without_password(url))
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"{option} {key}={shown}: expected an http(s)://HOST[:PORT]/... URL")
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{option} {key}={shown}: credentials in the URL are not supported")
    return url


def _without_password(url: str) -> str:
    """url with anything between "://" and the "@" of its authority replaced by ***."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if sep and "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return scheme + sep + authority + slash + path


def _packages() -> argparse.ArgumentParser:
    packages = argparse.ArgumentParser(add_help=False)
    packages.add_argument(
        "--snapshot",
        metavar="TIME",
        help="snapshot time YYYYMMDDTHHMMSSZ, or 'base' for the base image's own"
        " (lock: default the lock's, else now; update: default now)",
    )
    _repeatable(
        packages,
        "--snapshot-mirror",
        "NAME=URL",
        "serve a distribution's snapshots or packages from URL instead of its public host"
        " (debian, ubuntu, alpine, fedora, centos, rocky, alma, ubi, arch, opensuse; repeatable)",
        type=_key_value,
    )
    _repeatable(
        packages,
        "--platform",
        "OS/ARCH",
        "platforms whose packages to lock (repeatable; default linux/amd64)",
    )
    packages.add_argument(
        "--pin-versions",
        action="store_true",
        help="also write exact versions into install commands (apt, apk, dnf, zypper)",
    )
    packages.add_argument(
        "--images-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pin image references only: no snapshots, SOURCE_DATE_EPOCH or syntax line"
        " (default: as the lock was made; --no-images-only locks everything)",
    )
    packages.add_argument(
        "--context",
        metavar="DIR",
        help="the build context, as `docker build -f FILE DIR` has it: where COPY sources and"
        " the ignore file are read (default: as compose and bake files declare, else the"
        " Dockerfile's folder)",
    )
    packages.add_argument(
        "--dry-run", action="store_true", help="print a unified diff, write nothing"
    )
    return packages


def _refresh(verb: str) -> argparse.ArgumentParser:
    refresh = argparse.ArgumentParser(add_help=False)
    _repeatable(
        refresh, "--image", "NAME", f"{verb} only this image (name or name:tag; repeatable)"
    )
    refresh.add_argument(
        "--strict",
        action="store_true",
        help="count an index digest change even when no locked platform's manifest changed",
    )
    return refresh


@functools.cache  # parsing reads the parsers and changes nothing: a caller's runs share them
def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each command's own (for errors in that command's terms)."""
    common, registry, packages = _common(), _registry(), _packages()
    parser = argparse.ArgumentParser(
        prog="pinner",
        description="Make container builds reproducible: pin images to digests, packages to"
        " dated snapshots, timestamps to SOURCE_DATE_EPOCH; record it all in a lockfile.",
        epilog="Configuration: [tool.pinner] in pyproject.toml or pinner.toml at the repository"
        " root; flags win over it.",
    )
    parser.add_argument("--version", action="version", version=f"pinner {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    lock = commands.add_parser(
        "lock",
        parents=[common, registry, packages],
        help="pin everything and write the lockfile",
        description="Resolve each image tag to its digest and each package a RUN installs (apt,"
        " apk, dnf/yum/microdnf, pacman, zypper) to the version its snapshot or repositories"
        " serve; rewrite the Dockerfile in place and write <Dockerfile>.lock beside it.",
    )
    update = commands.add_parser(
        "update",
        parents=[common, registry, packages, _refresh("refresh")],
        help="refresh the pins; change files only if something moved",
        description="Re-resolve every pinned tag and the package versions at a new snapshot"
        " (now, or --snapshot). If anything moved, write the new pins, snapshot time and"
        " SOURCE_DATE_EPOCH together; if nothing did, touch no file.",
    )
    update.add_argument(
        "--only", choices=["images", "packages"], help="refresh one kind of pin only"
    )
    update.add_argument(
        "--report", metavar="FILE", help="write a Markdown report fit for a pull-request body"
    )
    update.add_argument(
        "--exit-code", action="store_true", help="exit 5 when something changed (0 when not)"
    )
    check = commands.add_parser(
        "check",
        parents=[common, registry, _refresh("check")],
        help="fail when anything is unpinned or disagrees with the lock",
        description="Offline: exit 0 when all is pinned and agrees with the lock, else 1."
        " With --remote: read-only, list pinned tags that have moved, exit 1 if any did.",
    )
    check.add_argument(
        "--remote",
        action="store_true",
        help="ask the registries which pinned tags have moved, and the snapshots and package"
        " repositories whether they still serve the locked packages",
    )
    _repeatable(
        check,
        "--snapshot-mirror",
        "NAME=URL",
        "where the packages were locked from, if not the public host (repeatable)",
        type=_key_value,
    )
    build_args = commands.add_parser(
        "build-args",
        parents=[common],
        help="print the --build-arg flags the lock asks for",
        description="Print the --build-arg flags that make a build of the locked Dockerfile"
        " reproducible, one per line, for scripts.",
    )
    named = {"lock": lock, "update": update, "check": check, "build-args": build_args}
    return parser, {**named, **_image_commands(commands, registry)}


def _image_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    registry: argparse.ArgumentParser,
) -> dict[str, argparse.ArgumentParser]:
    """Register diff (and verify): commands on images rather than on Dockerfiles."""
    images = argparse.ArgumentParser(add_help=False)
    _repeatable(
        images,
        "--platform",
        "OS/ARCH",
        "only this platform (repeatable; diff: default every platform; verify: default"
        " the lock's, else IMAGE's)",
    )
    images.add_argument(
        "--semantic",
        action="store_true",
        help="ignore what does not change what runs: timestamps, history, tar order and format",
    )
    _repeatable(
        images,
        "--ignore",
        "KINDS",
        "ignore some of: timestamps,history,file-order,tar-format (comma-separated)",
    )
    images.add_argument(
        "--json", action="store_true", dest="as_json", help="machine-readable output on stdout"
    )
    images.add_argument("--report", metavar="FILE", help="also write a Markdown report to FILE")
    images.add_argument("-q", "--quiet", action="store_true", help="no notices on stderr")
    diff = commands.add_parser(
        "diff",
        parents=[images, registry],
        help="compare two images: config, layers, files",
        description="Compare two images platform by platform: config fields, layers, then the"
        " files in them. Each image is a registry reference, oci:DIR[:TAG] or"
        " docker-archive:FILE. Exit 0 when identical, 1 when different.",
    )
    where = "a registry reference, oci:DIR[:TAG] or docker-archive:FILE"
    diff.add_argument("image_a", metavar="IMAGE_A", help=where)
    diff.add_argument("image_b", metavar="IMAGE_B", help=where)
    verify = commands.add_parser(
        "verify",
        parents=[images, registry],
        help="rebuild a locked Dockerfile and check IMAGE is what it builds",
        description="Rebuild the locked Dockerfile for each platform (docker buildx, buildctl or"
        " buildah, with the lock's SOURCE_DATE_EPOCH) and compare each platform manifest with"
        " IMAGE's; on a mismatch, show what differs. Exit 0 when every platform is reproduced.",
    )
    verify.add_argument("image", metavar="IMAGE", help=f"the published image: {where}")
    verify.add_argument(
        "dockerfile",
        metavar="DOCKERFILE",
        nargs="?",
        default="Dockerfile",
        help="the locked Dockerfile it claims to come from (default: ./Dockerfile)",
    )
    verify.add_argument(
        "--context", metavar="DIR", help="build context (default: the Dockerfile's folder)"
    )
    verify.add_argument(
        "--builder", choices=["buildx", "buildctl", "buildah"], help="the builder to use"
    )
    _repeatable(
        verify,
        "--build-arg",
        "NAME=VALUE",
        "override an ARG default, as the build that made IMAGE did (repeatable)",
        type=_key_value,
    )
    verify.add_argument(
        "--dry-run", action="store_true", help="print the build commands, build nothing"
    )
    return {"diff": diff, "verify": verify}


def _ignored(args: argparse.Namespace) -> frozenset[str]:
    from pinner.imagediff import SEMANTIC, parse_ignores

    ignored: frozenset[str] = SEMANTIC if args.semantic else frozenset()
    for text in args.ignore:
        try:
            ignored |= parse_ignores(text)
        except ValueError as e:
            raise UsageError(str(e)) from None
    return ignored


def _settings(args: argparse.Namespace, config: Config) -> Settings:
    from pinner.remote.registry import Settings

    mirrors = dict(config.registry_mirrors)
    mirrors.update(args.registry_mirror)
    normal = {}
    for host, url in mirrors.items():
        url = _mirror_url("--registry-mirror", host, url)
        normal["docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host] = url
    insecure = args.insecure_registry or config.insecure_registries
    return Settings(mirrors=normal, insecure=frozenset(insecure), timeout=args.timeout)


def _snapshot_mirrors(args: argparse.Namespace, config: Config) -> dict[str, str]:
    mirrors = dict(config.snapshot_mirrors)
    mirrors.update(args.snapshot_mirror)
    from pinner.managers import MIRROR_NAMES

    unknown = sorted(set(mirrors) - MIRROR_NAMES)
    if unknown:
        names = ", ".join(sorted(MIRROR_NAMES))
        raise UsageError(f"--snapshot-mirror {unknown[0]}=...: mirrors are named {names}")
    return {key: _mirror_url("--snapshot-mirror", key, url) for key, url in mirrors.items()}


def _options(args: argparse.Namespace, config: Config) -> Options:
    from pinner.outcome import Options, check_snapshot_option, platform_options

    mirrors = _snapshot_mirrors(args, config)
    snapshot = args.snapshot or (config.snapshot if args.command == "lock" else None)
    check_snapshot_option(args.snapshot)
    return Options(
        snapshot=snapshot,
        snapshot_mirrors=mirrors,
        pin_versions=args.pin_versions or config.pin_versions,
        platforms=platform_options(args.platform or config.platforms),
        images_only=args.images_only
        if args.images_only is not None
        else config.images_only or None,
        context=_context(args.context),
        contexts=_contexts(config),
    )


def _context(path: str | None) -> str | None:
    """--context as an absolute path; a usage error if it is not a folder."""
    if path is not None and not os.path.isdir(path):
        raise UsageError(f"--context {path}: not a folder")
    return os.path.abspath(path) if path is not None else None


def _contexts(config: Config) -> dict[str, str]:
    """The configuration's build contexts by the Dockerfile's absolute path, both taken from the
    configuration file's folder."""
    from pinner.errors import ConfigError

    root = os.path.dirname(config.path) if config.path else os.getcwd()
    contexts = {}
    for dockerfile, folder in config.contexts.items():
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            raise ConfigError(f"{config.path}: contexts.{dockerfile}: {folder}: not a folder")
        contexts[os.path.abspath(os.path.join(root, dockerfile))] = os.path.abspath(path)
    return contexts


def _mirrors_only(args: argparse.Namespace, config: Config) -> Options:
    from pinner.outcome import Options

    return Options(snapshot_mirrors=_snapshot_mirrors(args, config))


def _run(
    args: argparse.Namespace,
    config: Config,
    files: Selection,
    options: Callable[[argparse.Namespace, Config], Options],
) -> Run:
    """What a command that asks registries is asked: its files, settings, options and output."""
    from pinner.commands.run import Run

    settings = _settings(args, config)  # its usage errors come before the options'
    return Run(
        files,
        settings,
        options(args, config),
        dry_run=getattr(args, "dry_run", False),  # check --remote has no --dry-run
        as_json=args.as_json,
        quiet=args.quiet,
    )


def _kubernetes(config: Config) -> frozenset[str]:
    """The manifests the configuration names, its globs taken from the file's folder."""
    from pinner import refs

    root = os.path.dirname(config.path) if config.path else os.getcwd()
    return refs.manifests(root, config.kubernetes)


def _lock_or_update(
    args: argparse.Namespace, config: Config, files: Selection, reading: Reading
) -> int:
    if args.command == "lock":
        from pinner.commands.lock import lock

        return lock(run=_run(args, config, files, _options), reading=reading)
    from pinner.commands.update import update
    from pinner.updater import Scope

    return update(
        run=_run(args, config, files, _options),
        scope=Scope(tuple(args.image), args.only, args.strict),
        report_path=args.report,
        exit_code=args.exit_code,
        reading=reading,
    )


def _dispatch(args: argparse.Namespace) -> int:
    from pinner.config import load as load_config

    config = load_config()
    if args.command == "diff":
        from pinner.commands.diff import diff

        return diff(
            image_a=args.image_a,
            image_b=args.image_b,
            settings=_settings(args, config),
            platforms=args.platform,
            ignored=_ignored(args),
            as_json=args.as_json,
            report_path=args.report,
        )
    if args.command == "verify":
        from pinner.commands.verify import verify

        return verify(
            image=args.image,
            dockerfile=args.dockerfile,
            context=args.context,
            settings=_settings(args, config),
            builder=args.builder,
            platforms=args.platform,
            build_args=dict(args.build_arg),
            ignored=_ignored(args),
            dry_run=args.dry_run,
            as_json=args.as_json,
            report_path=args.report,
            quiet=args.quiet,
        )
    from pinner.workspace import Selection

    files = Selection(
        args.paths, dict(args.build_arg), args.exclude or list(config.exclude), _kubernetes(config)
    )
    common = {"selection": files, "as_json": args.as_json, "quiet": args.quiet}
    if args.command in ("lock", "update"):
        # The files are read (over many, in a forked process) while the command's code, and
        # with it the code that talks to registries, is imported.
        from pinner.workspace import Reading

        reading = Reading(files, lock_texts=args.dry_run)
        try:
            return _lock_or_update(args, config, files, reading)
        finally:
            reading.stop()
    if args.command == "check":
        if args.remote:
            from pinner.commands.check_remote import check_remote
            from pinner.updater import Scope

            return check_remote(
                run=_run(args, config, files, _mirrors_only),
                scope=Scope(tuple(args.image), "images", args.strict),
            )
        from pinner.commands.check import check

        return check(snapshot_mirrors=_snapshot_mirrors(args, config), **common)
    if args.command == "build-args":
        from pinner.commands.build_args import build_args as print_build_args

        return print_build_args(**common)
    raise AssertionError(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None, *, whole_process: bool = False) -> int:
    """Run pinner; return the exit code (0 ok, 1 failure, 2 usage, 3 bug, 130 interrupted).

    whole_process: the process is this run's alone and ends with it (the `pinner` command).
    """
    parser, command_parsers = _parser()
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in words
    try:
        args, unknown = parser.parse_known_args(words)
        if unknown:
            # argparse reports a subcommand's unknown option with the top-level usage; show the
            # command's own, which lists the options it does take.
            command_parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as e:
        if as_json and e.code not in (0, None):  # a usage error argparse printed on stderr
            print_json_failure(["usage error; see the usage on stderr"], EXIT_USAGE)
        raise
    # A run builds many small records that live until it ends (instructions, words, lock
    # entries): collecting after every 700 new objects, the default, took a third of parsing a
    # 100,000-line Dockerfile and rescans them all again and again. Collect 70 times less often.
    gc.set_threshold(50_000, 20, 10)
    if whole_process and args.command == "check" and not args.remote:
        # Even so each record is scanned once, and a local check makes almost no reference
        # cycles for the collector to find (a 1,000-file check leaves 632 unreachable objects
        # with it and 717 without, at the same peak memory): its scans were a tenth of checking
        # a 100,000-line Dockerfile. Only where the process ends with the run, not for callers.
        gc.disable()
    try:
        return _dispatch(args)
    except UsageError as e:
        return _fail(f"pinner: {untrusted(str(e), MAX_LINE)}", EXIT_USAGE, as_json)
    except PinnerError as e:
        # Messages quote server text already made safe; this keeps any slip to one clean line.
        return _fail(untrusted(str(e), MAX_LINE), EXIT_FAIL, as_json)
    except KeyboardInterrupt:
        return _fail("pinner: interrupted", EXIT_INTERRUPT, as_json)
    except Exception:
        import traceback  # only a bug needs it

        traceback.print_exc()
        message = f"pinner {__version__}: this is a bug; please report it with the traceback above"
        return _fail(message, EXIT_BUG, as_json)


def entry() -> NoReturn:
    """The `pinner` command: main(), then an exit that skips freeing the run's objects."""
    code = main(whole_process=True)
    # The interpreter's teardown frees every object one by one: 60-90 ms after a 1,000-file
    # lock or update, for memory the process gives back whole as it ends. Output is flushed and
    # atexit handlers run as at any exit; pinner's files are written and closed, and its
    # children reaped, before main returns. A profiler or tracer (cProfile, coverage) gets the
    # ordinary exit: it reports after the program returns.
    if sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a reader gone (pinner ... | head): exit as Python does
        raise SystemExit(code) from None
    atexit._run_exitfuncs()
    os._exit(code)


def _fail(message: str, code: int, as_json: bool) -> int:
    """Print a failure on stderr, and as the --json document on stdout when asked."""
    print(message, file=sys.stderr)
    if as_json:
        print_json_failure([message], code)
    return code
