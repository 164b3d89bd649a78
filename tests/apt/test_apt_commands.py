"""pinner.apt.commands: what the shell of a RUN does with apt, as tables of (RUN text, expected)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinner.apt.commands import (
    AptCommand,
    PackageArg,
    added_architectures,
    apt_commands,
    install_packages,
    package_manager,
    pin_versions,
)

# --------------------------------------------------------------------------- real RUN texts
# The text after `RUN `, shaped as the official images' Dockerfiles write it: tabs, `; \` lines,
# comment lines inside continuations (BuildKit drops them), `\` alone on a line.

BUILDPACK_DEPS_CURL = (
    "set -eux; \\\n"
    "\tapt-get update; \\\n"
    "\tapt-get install -y --no-install-recommends \\\n"
    "\t\tca-certificates \\\n"
    "\t\tcurl \\\n"
    "\t\tgnupg \\\n"
    "\t\tnetbase \\\n"
    "\t\tsq \\\n"
    "\t\twget \\\n"
    "\t; \\\n"
    "\trm -rf /var/lib/apt/lists/*\n"
)

BUILDPACK_DEPS_SCM = (
    "set -eux; \\\n"
    "\tapt-get update; \\\n"
    "\tapt-get install -y --no-install-recommends \\\n"
    "\t\tgit \\\n"
    "\t\tmercurial \\\n"
    "\t\topenssh-client \\\n"
    "\t\tsubversion \\\n"
    "\t\t\\\n"
    "# procps is very common in build systems, and is a reasonably small package\n"
    "\t\tprocps \\\n"
    "\t; \\\n"
    "\trm -rf /var/lib/apt/lists/*\n"
)

PYTHON_SLIM_RUNTIME = (
    "set -eux; \\\n"
    "\tapt-get update; \\\n"
    "\tapt-get install -y --no-install-recommends \\\n"
    "# ca-certificates for verifying downloads\n"
    "\t\tca-certificates \\\n"
    "# netbase for /etc/{protocols,rpc,services}, part of the Python standard library\n"
    "\t\tnetbase \\\n"
    "# tzdata for zoneinfo\n"
    "\t\ttzdata \\\n"
    "\t; \\\n"
    "\trm -rf /var/lib/apt/lists/*\n"
)

PYTHON_SLIM_BUILD = (
    "set -eux; \\\n"
    "\t\\\n"
    '\tsavedAptMark="$(apt-mark showmanual)"; \\\n'
    "\tapt-get update; \\\n"
    "\tapt-get install -y --no-install-recommends \\\n"
    "\t\tdpkg-dev \\\n"
    "\t\tgcc \\\n"
    "\t\tgnupg \\\n"
    "\t\tlibbluetooth-dev \\\n"
    "\t\tlibbz2-dev \\\n"
    "\t\tlibc6-dev \\\n"
    "\t\tlibdb-dev \\\n"
    "\t\tlibffi-dev \\\n"
    "\t\tlibgdbm-dev \\\n"
    "\t\tliblzma-dev \\\n"
    "\t\tlibncursesw5-dev \\\n"
    "\t\tlibreadline-dev \\\n"
    "\t\tlibsqlite3-dev \\\n"
    "\t\tlibssl-dev \\\n"
    "\t\tmake \\\n"
    "\t\ttk-dev \\\n"
    "\t\tuuid-dev \\\n"
    "\t\twget \\\n"
    "\t\txz-utils \\\n"
    "\t\tzlib1g-dev \\\n"
    "\t; \\\n"
    "\t\\\n"
    '\twget -O python.tar.xz "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz"; \\\n'
    "\tmkdir -p /usr/src/python; \\\n"
    "\ttar --extract --directory /usr/src/python --strip-components=1 --file python.tar.xz; \\\n"
    "\trm python.tar.xz; \\\n"
    "\t\\\n"
    "\tcd /usr/src/python; \\\n"
    '\tmake -j "$(nproc)"; \\\n'
    "\t\\\n"
    "\tapt-mark auto '.*' > /dev/null; \\\n"
    "\tapt-mark manual $savedAptMark; \\\n"
    "\tfind /usr/local -type f -executable -not \\( -name '*tkinter*' \\) -exec ldd '{}' ';' \\\n"
    '\t\t| awk \'/=>/ { so = $(NF-1); if (index(so, "/usr/local/") == 1) { next }; gsub("^/(usr/)?", "", so); printf "*%s\\n", so }\' \\\n'
    "\t\t| sort -u \\\n"
    "\t\t| xargs -r dpkg-query --search \\\n"
    "\t\t| cut -d: -f1 \\\n"
    "\t\t| sort -u \\\n"
    "\t\t| xargs -r apt-mark manual \\\n"
    "\t; \\\n"
    "\tapt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false; \\\n"
    "\trm -rf /var/lib/apt/lists/*; \\\n"
    "\t\\\n"
    "\tpython3 --version\n"
)

NGINX = (
    "set -x \\\n"
    "# create nginx user/group first, to be consistent throughout docker variants\n"
    "    && groupadd --system --gid 101 nginx \\\n"
    '    && useradd --system --gid nginx --no-create-home --home /nonexistent --comment "nginx user" --shell /bin/false --uid 101 nginx \\\n'
    "    && apt-get update \\\n"
    "    && apt-get install --no-install-recommends --no-install-suggests -y gnupg1 ca-certificates \\\n"
    "    && \\\n"
    "    NGINX_GPGKEYS='573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62 8540A6F18833A80E9C1653A42FD21310B49F6B46'; \\\n"
    "    NGINX_GPGKEY_PATH=/etc/apt/keyrings/nginx-archive-keyring.gpg; \\\n"
    '    export GNUPGHOME="$(mktemp -d)"; \\\n'
    "    found=''; \\\n"
    "    for NGINX_GPGKEY in $NGINX_GPGKEYS; do \\\n"
    "        for server in \\\n"
    "            hkp://keyserver.ubuntu.com:80 \\\n"
    "            pgp.mit.edu \\\n"
    "        ; do \\\n"
    '            echo "Fetching GPG key $NGINX_GPGKEY from $server"; \\\n'
    '            gpg1 --batch --keyserver "$server" --keyserver-options timeout=10 --recv-keys "$NGINX_GPGKEY" && found=yes && break; \\\n'
    "        done; \\\n"
    '        test -z "$found" && echo >&2 "error: failed to fetch GPG key $NGINX_GPGKEY" && exit 1; \\\n'
    "    done; \\\n"
    '    gpg1 --batch --export $NGINX_GPGKEYS > "$NGINX_GPGKEY_PATH" ; \\\n'
    '    rm -rf "$GNUPGHOME"; \\\n'
    "    apt-get remove --purge --auto-remove -y gnupg1 && rm -rf /var/lib/apt/lists/* \\\n"
    '    && dpkgArch="$(dpkg --print-architecture)" \\\n'
    '    && nginxPackages=" \\\n'
    "        nginx=${NGINX_VERSION}-${PKG_RELEASE} \\\n"
    "        nginx-module-xslt=${NGINX_VERSION}-${DYNPKG_RELEASE} \\\n"
    "        nginx-module-njs=${NGINX_VERSION}+${NJS_VERSION}-${NJS_RELEASE} \\\n"
    '    " \\\n'
    '    && case "$dpkgArch" in \\\n'
    "        amd64|arm64) \\\n"
    "# arches officialy built by upstream\n"
    '            echo "deb [signed-by=$NGINX_GPGKEY_PATH] https://nginx.org/packages/mainline/debian/ bookworm nginx" >> /etc/apt/sources.list.d/nginx.list \\\n'
    "            && apt-get update \\\n"
    "            ;; \\\n"
    "        *) \\\n"
    "# we're on an architecture upstream doesn't officially build for\n"
    '            echo "deb-src [signed-by=$NGINX_GPGKEY_PATH] https://nginx.org/packages/mainline/debian/ bookworm nginx" >> /etc/apt/sources.list.d/nginx.list \\\n'
    "            \\\n"
    '            && tempDir="$(mktemp -d)" \\\n'
    '            && chmod 777 "$tempDir" \\\n'
    '            && savedAptMark="$(apt-mark showmanual)" \\\n'
    "            && apt-get update \\\n"
    "            && apt-get build-dep -y $nginxPackages \\\n"
    "            && ( \\\n"
    '                cd "$tempDir" \\\n'
    '                && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \\\n'
    "                    apt-get source --compile $nginxPackages \\\n"
    "            ) \\\n"
    "            && apt-mark showmanual | xargs apt-mark auto > /dev/null \\\n"
    '            && { [ -z "$savedAptMark" ] || apt-mark manual $savedAptMark; } \\\n'
    '            && ( cd "$tempDir" && dpkg-scanpackages . > Packages ) \\\n'
    '            && echo "deb [ trusted=yes ] file://$tempDir ./" > /etc/apt/sources.list.d/temp.list \\\n'
    '# work around the following APT issue by using "Acquire::GzipIndexes=false"\n'
    "            && apt-get -o Acquire::GzipIndexes=false update \\\n"
    "            ;; \\\n"
    "    esac \\\n"
    "    \\\n"
    "    && apt-get install --no-install-recommends --no-install-suggests -y \\\n"
    "                        $nginxPackages \\\n"
    "                        gettext-base \\\n"
    "                        curl \\\n"
    "    && apt-get remove --purge --auto-remove -y && rm -rf /var/lib/apt/lists/* /etc/apt/sources.list.d/nginx.list \\\n"
    "    \\\n"
    "# if we have leftovers from building, let's purge them (including extra, unnecessary build deps)\n"
    '    && if [ -n "$tempDir" ]; then \\\n'
    "        apt-get purge -y --auto-remove \\\n"
    '        && rm -rf "$tempDir" /etc/apt/sources.list.d/temp.list; \\\n'
    "    fi\n"
)

NODE = (
    'ARCH= OPENSSL_ARCH= && dpkgArch="$(dpkg --print-architecture)" \\\n'
    '    && case "${dpkgArch##*-}" in \\\n'
    "      amd64) ARCH='x64' OPENSSL_ARCH='linux-x86_64';; \\\n"
    "      arm64) ARCH='arm64' OPENSSL_ARCH='linux-aarch64';; \\\n"
    '      *) echo "unsupported architecture"; exit 1 ;; \\\n'
    "    esac \\\n"
    "    && set -ex \\\n"
    "    # libatomic1 for arm\n"
    "    && apt-get update && apt-get install -y ca-certificates curl wget gnupg dirmngr xz-utils libatomic1 --no-install-recommends \\\n"
    "    && rm -rf /var/lib/apt/lists/* \\\n"
    "    # use pre-existing gpg directory, see https://github.com/nodejs/docker-node/pull/1895#issuecomment-1550389150\n"
    '    && export GNUPGHOME="$(mktemp -d)" \\\n'
    "    && for key in \\\n"
    "      C0D6248439F1D5604AAFFB4021D900FFDB233756 \\\n"
    "    ; do \\\n"
    '      gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys "$key" || \\\n'
    '      gpg --batch --keyserver keyserver.ubuntu.com --recv-keys "$key" ; \\\n'
    "    done \\\n"
    '    && curl -fsSLO --compressed "https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-$ARCH.tar.xz" \\\n'
    "    && apt-mark auto '.*' > /dev/null \\\n"
    "    && find /usr/local -type f -executable -exec ldd '{}' ';' \\\n"
    '      | awk \'/=>/ { so = $(NF-1); if (index(so, "/usr/local/") == 1) { next }; gsub("^/(usr/)?", "", so); print so }\' \\\n'
    "      | sort -u \\\n"
    "      | xargs -r dpkg-query --search \\\n"
    "      | cut -d: -f1 \\\n"
    "      | sort -u \\\n"
    "      | xargs -r apt-mark manual \\\n"
    "    && apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false \\\n"
    "    && node --version\n"
)

POSTGRES_LOCALES = (
    "set -eux; \\\n"
    "\tif [ -f /etc/dpkg/dpkg.cfg.d/docker ]; then \\\n"
    '# if this file exists, we\'re likely in "debian:xxx-slim", and locales are thus being excluded\n'
    "\t\tgrep -q '/usr/share/locale' /etc/dpkg/dpkg.cfg.d/docker; \\\n"
    "\t\tsed -ri '/\\/usr\\/share\\/locale/d' /etc/dpkg/dpkg.cfg.d/docker; \\\n"
    "\t\t! grep -q '/usr/share/locale' /etc/dpkg/dpkg.cfg.d/docker; \\\n"
    "\tfi; \\\n"
    "\tapt-get update; apt-get install -y --no-install-recommends locales; rm -rf /var/lib/apt/lists/*; \\\n"
    "\techo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen; \\\n"
    "\tlocale-gen; \\\n"
    "\tlocale -a | grep 'en_US.utf8'\n"
)

POSTGRES_SERVER = (
    "set -ex; \\\n"
    "\t\\\n"
    "\texport PYTHONDONTWRITEBYTECODE=1; \\\n"
    "\t\\\n"
    '\tdpkgArch="$(dpkg --print-architecture)"; \\\n'
    '\taptRepo="[ signed-by=/usr/local/share/keyrings/postgres.gpg.asc ] http://apt.postgresql.org/pub/repos/apt/ bookworm-pgdg main $PG_MAJOR"; \\\n'
    '\tcase "$dpkgArch" in \\\n'
    "\t\tamd64 | arm64 | ppc64el | s390x) \\\n"
    "# arches officialy built by upstream\n"
    '\t\t\techo "deb $aptRepo" > /etc/apt/sources.list.d/pgdg.list; \\\n'
    "\t\t\tapt-get update; \\\n"
    "\t\t\t;; \\\n"
    "\tesac; \\\n"
    "\t\\\n"
    "\tapt-get install -y --no-install-recommends postgresql-common; \\\n"
    "\tsed -ri 's/#(create_main_cluster) .*$/\\1 = false/' /etc/postgresql-common/createcluster.conf; \\\n"
    "\tapt-get install -y --no-install-recommends \\\n"
    '\t\t"postgresql-$PG_MAJOR=$PG_VERSION" \\\n'
    "\t; \\\n"
    "\t\\\n"
    "\trm -rf /var/lib/apt/lists/*\n"
)

GOLANG = (
    "set -eux; \\\n"
    "\tapt-get update; \\\n"
    "\tapt-get install -y --no-install-recommends \\\n"
    "\t\tg++ \\\n"
    "\t\tgcc \\\n"
    "\t\tlibc6-dev \\\n"
    "\t\tmake \\\n"
    "\t\tpkg-config \\\n"
    "\t; \\\n"
    "\trm -rf /var/lib/apt/lists/*\n"
)

# Docker's "Best practices" page.
DOCKER_DOCS = (
    "apt-get update && apt-get install -y --no-install-recommends \\\n"
    "    aufs-tools \\\n"
    "    automake \\\n"
    "    build-essential \\\n"
    "    curl \\\n"
    "    libsqlite3-dev \\\n"
    "    ruby1.9.1 \\\n"
    "    ruby1.9.1-dev \\\n"
    "    s3cmd=1.1.* \\\n"
    " && rm -rf /var/lib/apt/lists/*\n"
)

# Docker's cache-mount example: the RUN's own flags come first.
CACHE_MOUNTS = (
    "--mount=type=cache,target=/var/cache/apt,sharing=locked \\\n"
    "    --mount=type=cache,target=/var/lib/apt,sharing=locked \\\n"
    "    apt-get update && apt-get --no-install-recommends install -y gcc\n"
)

HEREDOC = "<<EOF\napt-get update\napt-get install -y curl\nEOF\n"
HEREDOC_BASH = "<<EOT bash\n  set -ex\n  apt-get update\n  apt-get install -y vim\nEOT\n"


# --------------------------------------------------------------------------- apt_commands


# An expected package: (word as written, name, version, arch, release); a command: (verb, packages,
# notes).
Pkg = tuple[str, str, str | None, str | None, str | None]
Cmd = tuple[str, list[Pkg], tuple[str, ...]]


def P(
    written: str,
    name: str | None = None,
    version: str | None = None,
    arch: str | None = None,
    release: str | None = None,
) -> Pkg:
    """An expected package: the word as written in the RUN text, and what apt reads from it."""
    return (written, written if name is None else name, version, arch, release)


def Ps(names: str) -> list[Pkg]:
    """Expected packages written as bare names, separated by spaces."""
    return [P(name) for name in names.split()]


def read(run_text: str) -> list[Cmd]:
    """Each apt command as (verb, packages as P(...) tuples, notes)."""
    return [
        (
            command.verb,
            [
                (run_text[p.start : p.end], p.name, p.version, p.arch, p.release)
                for p in command.packages
            ],
            command.notes,
        )
        for command in apt_commands(run_text)
    ]


UPDATE: Cmd = ("update", [], ())


def upgrade_note(program: str, verb: str) -> str:
    return f"{program} {verb} takes whatever the snapshot serves; versions are not recorded"


def variable_note(word: str) -> str:
    return f"package list uses a variable ({word}); its packages are not recorded"


REAL_WORLD = [
    pytest.param(
        BUILDPACK_DEPS_CURL,
        [UPDATE, ("install", Ps("ca-certificates curl gnupg netbase sq wget"), ())],
        id="buildpack-deps-curl",
    ),
    pytest.param(
        BUILDPACK_DEPS_SCM,
        [UPDATE, ("install", Ps("git mercurial openssh-client subversion procps"), ())],
        id="buildpack-deps-scm-comment-and-lone-backslash",
    ),
    pytest.param(
        PYTHON_SLIM_RUNTIME,
        [UPDATE, ("install", [P("ca-certificates"), P("netbase"), P("tzdata")], ())],
        id="python-slim-comment-lines",
    ),
    pytest.param(
        PYTHON_SLIM_BUILD,
        [
            UPDATE,
            (
                "install",
                Ps(
                    "dpkg-dev gcc gnupg libbluetooth-dev libbz2-dev libc6-dev libdb-dev libffi-dev"
                    " libgdbm-dev liblzma-dev libncursesw5-dev libreadline-dev libsqlite3-dev"
                    " libssl-dev make tk-dev uuid-dev wget xz-utils zlib1g-dev"
                ),
                (),
            ),
            ("purge", [], ()),
        ],
        id="python-slim-build",
    ),
    pytest.param(
        NGINX,
        [
            UPDATE,
            ("install", [P("gnupg1"), P("ca-certificates")], ()),
            ("remove", [P("gnupg1")], ()),
            UPDATE,
            UPDATE,
            (
                "build-dep",
                [],
                (upgrade_note("apt-get", "build-dep"), variable_note("$nginxPackages")),
            ),
            ("source", [], (variable_note("$nginxPackages"),)),
            UPDATE,
            ("install", [P("gettext-base"), P("curl")], (variable_note("$nginxPackages"),)),
            ("remove", [], ()),
            ("purge", [], ()),
        ],
        id="nginx",
    ),
    pytest.param(
        NODE,
        [
            UPDATE,
            (
                "install",
                Ps("ca-certificates curl wget gnupg dirmngr xz-utils libatomic1"),
                (),
            ),
            ("purge", [], ()),
        ],
        id="node-options-after-packages",
    ),
    pytest.param(
        POSTGRES_LOCALES,
        [UPDATE, ("install", [P("locales")], ())],
        id="postgres-locales",
    ),
    pytest.param(
        POSTGRES_SERVER,
        [
            UPDATE,
            ("install", [P("postgresql-common")], ()),
            (
                "install",
                [],
                (
                    "package name uses a variable (postgresql-$PG_MAJOR=$PG_VERSION); it is not recorded",
                ),
            ),
        ],
        id="postgres-versioned-variable",
    ),
    pytest.param(
        GOLANG,
        [UPDATE, ("install", [P("g++"), P("gcc"), P("libc6-dev"), P("make"), P("pkg-config")], ())],
        id="golang",
    ),
    pytest.param(
        DOCKER_DOCS,
        [
            UPDATE,
            (
                "install",
                [
                    *Ps("aufs-tools automake build-essential curl libsqlite3-dev"),
                    P("ruby1.9.1"),
                    P("ruby1.9.1-dev"),
                    P("s3cmd=1.1.*", "s3cmd", "1.1.*"),
                ],
                (),
            ),
        ],
        id="docker-docs-best-practices",
    ),
    pytest.param(
        CACHE_MOUNTS,
        [UPDATE, ("install", [P("gcc")], ())],
        id="run-flags-cache-mounts",
    ),
    pytest.param(HEREDOC, [UPDATE, ("install", [P("curl")], ())], id="heredoc"),
    pytest.param(HEREDOC_BASH, [UPDATE, ("install", [P("vim")], ())], id="heredoc-to-bash"),
]

SHAPES = [
    # separators and prefixes
    pytest.param(
        "apt-get update && apt-get install -y curl",
        [UPDATE, ("install", [P("curl")], ())],
        id="and",
    ),
    pytest.param(
        "apt-get update || true; apt-get install -y curl",
        [UPDATE, ("install", [P("curl")], ())],
        id="or-semicolon",
    ),
    pytest.param(
        "apt-get update|apt-get install -y curl&",
        [UPDATE, ("install", [P("curl")], ())],
        id="pipe-background-no-spaces",
    ),
    pytest.param(
        "(apt-get update && apt-get install -y curl)",
        [UPDATE, ("install", [P("curl")], ())],
        id="subshell",
    ),
    pytest.param(
        "{ apt-get update; apt-get install -y curl; }",
        [UPDATE, ("install", [P("curl")], ())],
        id="group",
    ),
    pytest.param(
        "if ! command -v curl >/dev/null; then apt-get update && apt-get install -y curl; fi",
        [UPDATE, ("install", [P("curl")], ())],
        id="if-then-command-v",
    ),
    pytest.param(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y tzdata",
        [("install", [P("tzdata")], ())],
        id="assignment-prefix",
    ),
    pytest.param("sudo -E apt-get install -y curl", [("install", [P("curl")], ())], id="sudo"),
    pytest.param(
        "sudo -u root DEBIAN_FRONTEND=noninteractive apt-get -yq install curl",
        [("install", [P("curl")], ())],
        id="sudo-user-and-assignment",
    ),
    pytest.param(
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y curl",
        [("install", [P("curl")], ())],
        id="env",
    ),
    pytest.param(
        "eatmydata apt-get install -y curl", [("install", [P("curl")], ())], id="eatmydata"
    ),
    pytest.param("timeout 600 apt-get update", [UPDATE], id="timeout"),
    pytest.param(
        "/usr/bin/apt-get install -y curl", [("install", [P("curl")], ())], id="absolute-path"
    ),
    pytest.param("apt install -y curl", [("install", [P("curl")], ())], id="apt"),
    pytest.param("aptitude install -y curl", [("install", [P("curl")], ())], id="aptitude"),
    pytest.param(
        "aptitude -y safe-upgrade",
        [("safe-upgrade", [], (upgrade_note("aptitude", "safe-upgrade"),))],
        id="aptitude-safe-upgrade",
    ),
    # shells
    pytest.param(
        '/bin/sh -c "apt-get update && apt-get install -y curl"',
        [UPDATE, ("install", [P("curl")], ())],
        id="sh-c",
    ),
    pytest.param(
        "bash -o pipefail -ec 'apt-get update; apt-get install -y \"curl\"'",
        [UPDATE, ("install", [P('"curl"', "curl")], ())],
        id="bash-options-c",
    ),
    pytest.param(
        "curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs",
        [("install", [P("nodejs")], ())],
        id="curl-pipe-bash",
    ),
    # exec form
    pytest.param(
        '["apt-get", "install", "-y", "--no-install-recommends", "curl"]',
        [("install", [P("curl")], ())],
        id="exec-form",
    ),
    pytest.param(
        '[ "apt-get", "install", "-y", "curl=7.88.1-10+deb12u8" ]',
        [("install", [P("curl=7.88.1-10+deb12u8", "curl", "7.88.1-10+deb12u8")], ())],
        id="exec-form-version",
    ),
    pytest.param(
        '["/bin/bash", "-c", "apt-get update && apt-get install -y curl"]',
        [UPDATE, ("install", [P("curl")], ())],
        id="exec-form-bash-c",
    ),
    pytest.param(
        '["apt-get", "install", "-y", "\\u0063url"]',
        [("install", [P("\\u0063url", "curl")], ())],
        id="exec-form-json-escape",
    ),
    pytest.param(
        '["apt-get", "install", "-y", "curl"',
        [],  # BuildKit runs it as shell, whose first word is `[apt-get,`
        id="broken-json-is-shell-form",
    ),
    # options
    pytest.param(
        "apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confnew -t bookworm-backports golang-go",
        [("install", [P("golang-go")], ())],
        id="options-with-values",
    ),
    pytest.param(
        'apt-get -y -o Dpkg::Options::="--force-confdef" -o Dpkg::Options::="--force-confold" install curl',
        [("install", [P("curl")], ())],
        id="options-before-verb",
    ),
    pytest.param(
        "apt-get -oAcquire::Retries=3 -c /etc/apt/my.conf --option APT::Get::Fix-Missing=true install -yqq curl",
        [("install", [P("curl")], ())],
        id="attached-and-long-option-values",
    ),
    pytest.param(
        "apt-get install --target-release=bookworm-backports --target-release bookworm-backports --yes --assume-yes curl",
        [("install", [P("curl")], ())],
        id="target-release-both-forms",
    ),
    pytest.param("apt-get -qq update", [UPDATE], id="qq"),
    pytest.param("apt-get install -y -- curl", [("install", [P("curl")], ())], id="double-dash"),
    pytest.param("apt-get install -f -y", [("install", [], ())], id="no-packages"),
    # package words
    pytest.param(
        "apt-get install -y curl=7.88.1-10+deb12u8 'tzdata=2024a-0+deb12u1' vim=2:9.0.1378-2",
        [
            (
                "install",
                [
                    P("curl=7.88.1-10+deb12u8", "curl", "7.88.1-10+deb12u8"),
                    P("'tzdata=2024a-0+deb12u1'", "tzdata", "2024a-0+deb12u1"),
                    P("vim=2:9.0.1378-2", "vim", "2:9.0.1378-2"),
                ],
                (),
            )
        ],
        id="versions",
    ),
    pytest.param(
        "dpkg --add-architecture i386 && apt-get update && apt-get install -y libc6:i386 libstdc++6:i386=12.2.0-14",
        [
            UPDATE,
            (
                "install",
                [
                    P("libc6:i386", "libc6", arch="i386"),
                    P("libstdc++6:i386=12.2.0-14", "libstdc++6", "12.2.0-14", "i386"),
                ],
                (),
            ),
        ],
        id="multiarch",
    ),
    pytest.param(
        "apt-get install -y curl/bookworm-backports",
        [("install", [P("curl/bookworm-backports", "curl", release="bookworm-backports")], ())],
        id="release",
    ),
    pytest.param(
        'apt-get install -y "python3.12" python3.12-venv software-properties-common',
        [
            (
                "install",
                [
                    P('"python3.12"', "python3.12"),
                    P("python3.12-venv"),
                    P("software-properties-common"),
                ],
                (),
            )
        ],
        id="double-quoted-and-dots",
    ),
    # notes
    pytest.param(
        'apt-get install -y $PKGS ${BUILD_DEPS} "$@" curl',
        [
            (
                "install",
                [P("curl")],
                (variable_note("$PKGS"), variable_note("${BUILD_DEPS}"), variable_note("$@")),
            )
        ],
        id="variables",
    ),
    pytest.param(
        'apt-get install -y $(cat /tmp/pkgs.txt | grep -v "^#") `cat more.txt`',
        [
            (
                "install",
                [],
                (
                    'package list uses a command substitution ($(cat /tmp/pkgs.txt | grep -v "^#")); its packages are not recorded',
                    "package list uses a command substitution (`cat more.txt`); its packages are not recorded",
                ),
            )
        ],
        id="command-substitution",
    ),
    pytest.param(
        "apt-get install -y nginx=${NGINX_VERSION}-1~bookworm",
        [
            (
                "install",
                [P("nginx=${NGINX_VERSION}-1~bookworm", "nginx", "${NGINX_VERSION}-1~bookworm")],
                (
                    "version of nginx uses a variable (${NGINX_VERSION}-1~bookworm); it is left as written",
                ),
            )
        ],
        id="version-variable",
    ),
    pytest.param(
        "apt-get update && apt-get upgrade -y && apt-get dist-upgrade -y && apt full-upgrade -y",
        [
            UPDATE,
            ("upgrade", [], (upgrade_note("apt-get", "upgrade"),)),
            ("dist-upgrade", [], (upgrade_note("apt-get", "dist-upgrade"),)),
            ("full-upgrade", [], (upgrade_note("apt", "full-upgrade"),)),
        ],
        id="upgrades",
    ),
    pytest.param(
        "wget -q https://dl.google.com/linux/direct/google-chrome-stable_current_amd64.deb"
        " && apt-get install -y ./google-chrome-stable_current_amd64.deb /tmp/x.deb",
        [
            (
                "install",
                [],
                (
                    "installs a local .deb file (./google-chrome-stable_current_amd64.deb); not pinned by the snapshot",
                    "installs a local .deb file (/tmp/x.deb); not pinned by the snapshot",
                ),
            )
        ],
        id="local-deb",
    ),
    pytest.param(
        "apt install -y https://example.com/x_1.0_amd64.deb",
        [
            (
                "install",
                [],
                (
                    "installs a .deb from a URL (https://example.com/x_1.0_amd64.deb); not pinned by the snapshot",
                ),
            )
        ],
        id="url",
    ),
    pytest.param(
        "apt-get build-dep -y .",
        [
            (
                "build-dep",
                [],
                (
                    upgrade_note("apt-get", "build-dep"),
                    "uses a local path (.); not pinned by the snapshot",
                ),
            )
        ],
        id="build-dep-local",
    ),
    pytest.param(
        "apt-get install -y 'libqt5*' libgl1-mesa-* '~nfonts-'",
        [
            (
                "install",
                [],
                (
                    "package name is a pattern (libqt5*); what it matches is not recorded",
                    "package name is a pattern (libgl1-mesa-*); what it matches is not recorded",
                    "package name is a pattern (~nfonts-); what it matches is not recorded",
                ),
            )
        ],
        id="patterns",
    ),
    pytest.param(
        "apt-get purge -y 'libfoo*' $PKGS", [("purge", [], ())], id="no-notes-when-removing"
    ),
    pytest.param(
        "cat /tmp/apt.txt | xargs apt-get install -y --no-install-recommends",
        [("install", [], ("xargs supplies packages to apt-get install; they are not recorded",))],
        id="xargs",
    ),
    pytest.param(
        "xargs -a packages.txt -r -- apt-get install -y curl",
        [
            (
                "install",
                [P("curl")],
                ("xargs supplies packages to apt-get install; they are not recorded",),
            )
        ],
        id="xargs-options",
    ),
    # what is not apt
    pytest.param('echo "apt-get install -y vim" && echo apt-get install vim', [], id="echo"),
    pytest.param(
        "apt-get update && apt-get install -y curl # && apt-get install -y vim",
        [UPDATE, ("install", [P("curl")], ())],
        id="shell-comment",
    ),
    pytest.param(
        "apt-get install -y \\\n    curl \\\n#    vim \\\n    wget",
        [("install", [P("curl"), P("wget")], ())],
        id="commented-out-package-line",
    ),
    pytest.param(
        "apt-cache policy curl && apt-mark hold curl && dpkg -i x.deb", [], id="other-apt-tools"
    ),
    pytest.param("command -v apt-get", [], id="command-v"),
    pytest.param(
        "apt-get install -y curl > /dev/null 2>&1 < /dev/null",
        [("install", [P("curl")], ())],
        id="redirections",
    ),
    pytest.param("cat <<<apt-get", [], id="here-string"),
    pytest.param(
        "apt-get update \\\r\n\t&& apt-get install -y \\\r\n# comment\r\n\t\tcurl\r\n",
        [UPDATE, ("install", [P("curl")], ())],
        id="crlf",
    ),
    pytest.param("", [], id="empty"),
]


@pytest.mark.parametrize(("run_text", "expected"), REAL_WORLD + SHAPES)
def test_apt_commands(run_text: str, expected: list[Cmd]) -> None:
    assert read(run_text) == expected


def test_an_install_with_update_fetches_the_lists_first() -> None:
    """apt 3's `install --update` (docker-library's trixie images), wherever the option stands."""
    assert [c.updates for c in apt_commands("apt-get install --update -y curl")] == [True]
    assert [c.updates for c in apt_commands("apt install -y curl --update")] == [True]
    assert [c.updates for c in apt_commands("apt-get install -y curl-update")] == [False]


def test_offsets_are_exact() -> None:
    run_text = "apt-get update && apt-get install -y curl 'tzdata'"
    assert apt_commands(run_text) == (
        AptCommand("update", (), (), 0, 14, updates=True),
        AptCommand(
            "install",
            (PackageArg("curl", None, 37, 41), PackageArg("tzdata", None, 42, 50)),
            (),
            18,
            50,
        ),
    )


COMMAND_SPANS = [
    pytest.param(
        "set -eux; apt-get update; apt-get install -y curl",
        ["apt-get update", "apt-get install -y curl"],
        id="plain",
    ),
    pytest.param(
        "if true; then DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null; fi",
        ["DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null"],
        id="prefix-and-redirection-not-keyword",
    ),
    pytest.param(
        "cat x | sudo xargs apt-get install", ["sudo xargs apt-get install"], id="wrappers"
    ),
    pytest.param(
        "apt-get install \\\n  curl \\\n  wget",
        ["apt-get install \\\n  curl \\\n  wget"],
        id="continuations",
    ),
    pytest.param('["apt-get", "update"]', ['"apt-get", "update"'], id="exec-form"),
    pytest.param("sh -c 'apt-get update'", ["apt-get update"], id="sh-c"),
]


@pytest.mark.parametrize(("run_text", "expected"), COMMAND_SPANS)
def test_command_spans(run_text: str, expected: list[str]) -> None:
    assert [run_text[c.start : c.end] for c in apt_commands(run_text)] == expected


# --------------------------------------------------------------------------- package_manager

PACKAGE_MANAGERS = [
    pytest.param(BUILDPACK_DEPS_CURL, "apt", id="buildpack-deps"),
    pytest.param(NGINX, "apt", id="nginx"),
    pytest.param("apt update", "apt", id="apt"),
    pytest.param("aptitude install -y curl", "apt", id="aptitude"),
    pytest.param('["apt-get", "install", "curl"]', "apt", id="exec-form"),
    pytest.param(HEREDOC, "apt", id="heredoc"),
    pytest.param("apk add --no-cache curl", "apk", id="apk"),
    pytest.param("set -eux; apk update && /sbin/apk add curl", "apk", id="apk-path"),
    pytest.param("sudo apk add curl", "apk", id="apk-sudo"),
    pytest.param("dnf install -y curl && dnf clean all", "dnf", id="dnf"),
    pytest.param("yum -y install curl && yum clean all", "yum", id="yum"),
    pytest.param("microdnf install -y tar gzip", "microdnf", id="microdnf"),
    pytest.param("zypper --non-interactive install curl", "zypper", id="zypper"),
    pytest.param("pacman -Syu --noconfirm curl", "pacman", id="pacman"),
    pytest.param("command -v apk || apt-get update", "apt", id="command-v-is-no-use"),
    pytest.param("echo apk add curl", None, id="echo"),
    pytest.param("apt-cache policy curl", None, id="apt-cache"),
    pytest.param("pip install apt", None, id="pip"),
    pytest.param("# apt-get update", None, id="comment"),
    pytest.param("", None, id="empty"),
]


@pytest.mark.parametrize(("run_text", "expected"), PACKAGE_MANAGERS)
def test_package_manager(run_text: str, expected: str | None) -> None:
    assert package_manager(run_text) == expected


# --------------------------------------------------------------------------- conveniences

HAS_UPDATE = [
    pytest.param(BUILDPACK_DEPS_CURL, True, id="buildpack-deps"),
    pytest.param(CACHE_MOUNTS, True, id="cache-mounts"),
    pytest.param("apt-get -qq update", True, id="options-first"),
    pytest.param("aptitude update", True, id="aptitude"),
    pytest.param("apt-get install -y curl", False, id="install-only"),
    pytest.param("echo apt-get update", False, id="echo"),
    pytest.param("apt-get upgrade", False, id="upgrade"),
]


@pytest.mark.parametrize(("run_text", "expected"), HAS_UPDATE)
def test_apt_update_is_found(run_text: str, expected: bool) -> None:
    assert any(command.verb == "update" for command in apt_commands(run_text)) is expected


def test_install_packages_in_order_first_mention_wins() -> None:
    run_text = (
        "apt-get install -y curl=1 wget && apt-get purge -y gcc"
        " && apt-get install -y curl=2 libc6:i386 libc6 && apt-get reinstall tzdata"
    )
    assert [(p.name, p.version, p.arch) for p in install_packages(run_text)] == [
        ("curl", "1", None),
        ("wget", None, None),
        ("libc6", None, "i386"),
        ("tzdata", None, None),
    ]


# --------------------------------------------------------------------------- pin_versions

V = {
    "curl": "7.88.1-10+deb12u8",
    "tzdata": "2024a-0+deb12u1",
    "vim": "2:9.0.1378-2",
    "libc6": "2.36-9+deb12u9",
    "libc6:i386": "2.36-9+deb12u7",
    "ca-certificates": "20230311",
    "gettext-base": "0.21-12",
}

PINS = [
    pytest.param(
        "apt-get install -y curl", "apt-get install -y curl=7.88.1-10+deb12u8", id="plain"
    ),
    pytest.param(
        BUILDPACK_DEPS_CURL,
        BUILDPACK_DEPS_CURL.replace(
            "\tca-certificates \\", "\tca-certificates=20230311 \\"
        ).replace("\tcurl \\", "\tcurl=7.88.1-10+deb12u8 \\"),
        id="buildpack-deps-layout-kept",
    ),
    pytest.param(
        PYTHON_SLIM_RUNTIME,
        PYTHON_SLIM_RUNTIME.replace(
            "\t\tca-certificates \\", "\t\tca-certificates=20230311 \\"
        ).replace("\t\ttzdata \\", "\t\ttzdata=2024a-0+deb12u1 \\"),
        id="comment-lines-untouched",
    ),
    pytest.param(
        NGINX,
        NGINX.replace(" gnupg1 ca-certificates \\", " gnupg1 ca-certificates=20230311 \\")
        .replace("gettext-base \\", "gettext-base=0.21-12 \\")
        .replace(
            "                        curl \\", "                        curl=7.88.1-10+deb12u8 \\"
        ),
        id="nginx",
    ),
    pytest.param(
        "apt-get install -y curl=7.74.0-1.3",
        "apt-get install -y curl=7.88.1-10+deb12u8",
        id="replace-version",
    ),
    pytest.param(
        "apt-get install -y 'curl'",
        "apt-get install -y 'curl=7.88.1-10+deb12u8'",
        id="single-quoted",
    ),
    pytest.param(
        'apt-get install -y "vim=1:8"',
        'apt-get install -y "vim=2:9.0.1378-2"',
        id="double-quoted-version",
    ),
    pytest.param(
        'apt-get install -y curl="7.74"',
        "apt-get install -y curl=7.88.1-10+deb12u8",
        id="version-quoted-apart",
    ),
    pytest.param(
        "apt-get install -y libc6:i386 libc6:amd64 libc6",
        "apt-get install -y libc6:i386=2.36-9+deb12u7 libc6:amd64=2.36-9+deb12u9 libc6=2.36-9+deb12u9",
        id="arch-first-then-name",
    ),
    pytest.param(
        "apt-get update && apt-get install -y curl && apt-get install -y --reinstall curl",
        "apt-get update && apt-get install -y curl=7.88.1-10+deb12u8 && apt-get install -y --reinstall curl=7.88.1-10+deb12u8",
        id="every-mention",
    ),
    pytest.param(
        '["apt-get", "install", "-y", "curl"]',
        '["apt-get", "install", "-y", "curl=7.88.1-10+deb12u8"]',
        id="exec-form",
    ),
    pytest.param(HEREDOC, HEREDOC.replace("-y curl", "-y curl=7.88.1-10+deb12u8"), id="heredoc"),
    pytest.param(
        'sh -c "apt-get install -y \\"curl\\" \'vim\'"',
        'sh -c "apt-get install -y \\"curl=7.88.1-10+deb12u8\\" \'vim=2:9.0.1378-2\'"',
        id="inside-sh-c",
    ),
    pytest.param(
        "apt-get install -y \\\r\n\tcurl \\\r\n\tvim\r\n",
        "apt-get install -y \\\r\n\tcurl=7.88.1-10+deb12u8 \\\r\n\tvim=2:9.0.1378-2\r\n",
        id="crlf",
    ),
]


@pytest.mark.parametrize(("run_text", "expected"), PINS)
def test_pin_versions(run_text: str, expected: str) -> None:
    assert pin_versions(run_text, V) == expected


PIN_NOOPS = [
    pytest.param("apt-get install -y curl=7.88.1-10+deb12u8", id="already-pinned"),
    pytest.param("apt-get install -y wget gnupg", id="not-in-versions"),
    pytest.param("apt-get purge -y curl && apt-get remove vim", id="not-installing"),
    pytest.param('apt-get install -y $PKGS "$CURL"', id="variables"),
    pytest.param(
        "apt-get install -y nginx=${NGINX_VERSION} curl=$CURL_VERSION", id="version-variable"
    ),
    pytest.param("apt-get install -y curl/bookworm-backports", id="release"),
    pytest.param("apt-get install -y 'curl*' ./curl.deb", id="pattern-and-file"),
    pytest.param('echo "apt-get install -y curl" && apt-cache show curl', id="not-apt"),
    pytest.param("apk add curl", id="apk"),
    pytest.param("apt-get install -y \\\n# curl \\\n  wget", id="commented-out"),
    pytest.param("apt-get install -y wget # curl", id="shell-comment"),
    pytest.param("apt-get install -y -o curl wget", id="option-value"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("run_text", PIN_NOOPS)
def test_pin_versions_no_op(run_text: str) -> None:
    assert pin_versions(run_text, V) == run_text


def test_pin_versions_refuses_what_is_not_a_version() -> None:
    with pytest.raises(ValueError) as e:
        pin_versions("apt-get install -y curl", {"curl": "1; rm -rf /"})
    assert str(e.value) == "curl: '1; rm -rf /' is not a Debian version"


@pytest.mark.parametrize(("run_text", "expected"), PINS)
def test_pin_versions_is_idempotent_and_readable(run_text: str, expected: str) -> None:
    assert pin_versions(expected, V) == expected
    for package in install_packages(expected):
        if package.name in V and package.release is None:
            key = (
                f"{package.name}:{package.arch}"
                if f"{package.name}:{package.arch}" in V
                else package.name
            )
            assert package.version == V[key]


# --------------------------------------------------------------------------- properties

NAMES = ["curl", "wget", "ca-certificates", "g++", "libglib2.0-0", "python3.12", "tzdata"]
VERSIONS = ["7.88.1-10+deb12u8", "1:2.3~rc1-4", "20230311", "0.21-12+b1", "2:9.0.1378-2"]
# What separates words: spaces, tabs, continuations, comment lines BuildKit drops, CRLF.
# In a heredoc the shell reads the lines itself, and a comment there ends the command.
HEREDOC_GAPS = [" ", "  ", "\t", " \\\n    ", "\\\n "]
GAPS = [*HEREDOC_GAPS, " \\\n# a comment\n\t", " \\\r\n\t"]
SEPARATORS = st.sampled_from([" && ", "; ", " || ", " \\\n    && ", ";\\\n# x && y\n\t", " | "])
OPTIONS = st.sampled_from(
    [
        "-y",
        "-qq",
        "--no-install-recommends",
        "-o Dpkg::Options::=--force-confnew",
        "-t bookworm",
        "--yes",
    ]
)
PREFIXES = st.sampled_from(
    ["", "sudo ", "DEBIAN_FRONTEND=noninteractive ", "env A=b ", "/usr/bin/"]
)
OTHER_COMMANDS = st.sampled_from(
    [
        "apt-get update",
        "rm -rf /var/lib/apt/lists/*",
        'echo "apt-get install curl"',
        "set -eux",
        "true",
    ]
)


@st.composite
def package_words(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(NAMES))
    if draw(st.booleans()):
        word += draw(st.sampled_from([":amd64", ":i386"]))
    quote = draw(st.sampled_from(["", "", "'", '"']))
    return f"{quote}{word}{quote}"


@st.composite
def install_commands(draw: st.DrawFn, gaps: list[str]) -> tuple[str, list[str]]:
    """An install command, and its package words as written."""
    words = draw(st.lists(package_words(), min_size=1, max_size=5))
    options = draw(st.lists(OPTIONS, max_size=3))
    args = [*options[:1], "install", *options[1:], *words]
    text = draw(PREFIXES) + draw(st.sampled_from(["apt-get", "apt"]))
    for arg in args:
        text += draw(st.sampled_from(gaps)) + arg
    return text, words


@st.composite
def run_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A RUN's text (shell form, exec form or heredoc) and its install package words in order."""
    form = draw(st.sampled_from(["shell", "exec", "heredoc"]))
    if form == "exec":
        words = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4))
        return '["apt-get", "install", "-y", ' + ", ".join(f'"{w}"' for w in words) + "]", words
    parts: list[str] = []
    all_words: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            text, words = draw(install_commands(HEREDOC_GAPS if form == "heredoc" else GAPS))
            parts.append(text)
            all_words += words
        else:
            parts.append(draw(OTHER_COMMANDS))
    if form == "heredoc":
        body = "\n".join(parts)
        return f"<<EOF\n{body}\nEOF\n", all_words
    text = parts[0]
    for part in parts[1:]:
        text += draw(SEPARATORS) + part
    return text + draw(st.sampled_from(["", "\n", "\r\n"])), all_words


@given(run_texts(), st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VERSIONS)))
def test_pinning_then_removing_the_versions_gives_back_the_input(
    generated: tuple[str, list[str]], versions: dict[str, str]
) -> None:
    run_text, _ = generated
    pinned = pin_versions(run_text, versions)
    restored = pinned
    for version in set(versions.values()):
        restored = restored.replace(f"={version}", "")
    assert restored == run_text
    assert pin_versions(pinned, versions) == pinned
    for package in install_packages(pinned):
        assert package.version == versions.get(package.name)


@given(run_texts())
def test_every_package_word_is_found_where_it_is_written(generated: tuple[str, list[str]]) -> None:
    run_text, words = generated
    found = [p for c in apt_commands(run_text) if c.verb == "install" for p in c.packages]
    assert [run_text[p.start : p.end] for p in found] == words
    assert [p.name for p in found] == [w.strip("'\"").partition(":")[0] for w in words]


SHELLISH = st.text(alphabet="ab -=:$(){}'\"\\\n#;&|<>`[],", max_size=60)


@given(SHELLISH)
def test_any_text_parses_and_pins_by_insertion_only(text: str) -> None:
    """Reading any text never fails; with no version to replace, pinning only inserts."""
    run_text = "apt-get install " + text
    apt_commands(run_text)
    package_manager(run_text)
    if "=" not in text:
        assert pin_versions(run_text, {"ab": "9.9"}).replace("=9.9", "") == run_text


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("dpkg --add-architecture i386 && apt-get update", ("i386",)),
        ("sudo dpkg --add-architecture armhf; dpkg --add-architecture=arm64", ("armhf", "arm64")),
        ("dpkg --print-architecture", ()),
        ("echo dpkg --add-architecture i386", ()),
    ],
)
def test_added_architectures(run: str, expected: tuple[str, ...]) -> None:
    assert added_architectures(run) == expected
