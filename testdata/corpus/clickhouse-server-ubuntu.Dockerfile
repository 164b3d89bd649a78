# provenance: ClickHouse/ClickHouse docker/server/Dockerfile.ubuntu at 001409ce725057e78f20cef6f6f0b18d45521a3a (sed on sources.list before apt-get update, an `exit 0` before the installs, a package list built in a for loop, `|| exit 1` inside the chain)
FROM ubuntu:22.04
ARG DEBIAN_FRONTEND=noninteractive
ARG apt_archive="http://archive.ubuntu.com"
RUN sed -i "s|http://archive.ubuntu.com|${apt_archive}|g" /etc/apt/sources.list \
    && groupadd -r clickhouse --gid=101 \
    && apt-get update \
    && apt-get install --yes --no-install-recommends \
        ca-certificates \
        locales \
    && rm -rf /var/lib/apt/lists/* /var/cache/debconf /tmp/*
ARG PACKAGES="clickhouse-client clickhouse-server"
ARG VERSION="25.4.4.25"
RUN clickhouse local -q 'SELECT 1' >/dev/null 2>&1 && exit 0 || : \
    ; apt-get update \
    && apt-get install --yes --no-install-recommends \
        dirmngr \
        gnupg2 \
    && for package in ${PACKAGES}; do \
        packages="${packages} ${package}=${VERSION}" \
    ; done \
    && apt-get install --yes --no-install-recommends ${packages} || exit 1 \
    && rm -rf \
        /var/lib/apt/lists/* \
        /var/cache/debconf \
        /tmp/* \
    && apt-get autoremove --purge -yq dirmngr gnupg2
