"""The cleanup pinner appends to the dnf, yum, microdnf, pacman, zypper and apk RUNs of real
Dockerfiles: only the parts the RUN leaves, valid shell once joined on, nothing on a second lock."""

from __future__ import annotations

import pytest
import shell_syntax

from pinner import dockerfile, reproducible
from pinner.apt.shell import emptied, run_invocations
from pinner.apt.sources import cleanup_for
from pinner.managers import Manager, System, apk, pacman, rpm, zypper
from pinner.managers.leftovers import mounted, removed_paths
from pinner.reproducible import join_cleanup

AUX = "/var/cache/ldconfig/aux-cache"
DNF4 = f"/var/lib/dnf/history.* /var/log/dnf* /var/log/hawkey.log {AUX}"
DNF5 = f"/usr/lib/sysimage/libdnf5/transaction_history.* /var/log/dnf* {AUX}"
MICRODNF = f"/var/lib/dnf/history.* {AUX}"
YUM3 = f"/var/lib/yum/history /var/log/yum.log {AUX}"
PACMAN = f"/var/log/pacman.log {AUX}"
ZYPPER = f"/var/log/zypp* /var/lib/zypp/AnonymousUniqueId {AUX}"
EL7 = System("centos", "7")
EL8 = System("rocky", "8")
F42 = System("fedora", "42")
LEAP = System("opensuse-leap", "15.6")
ARCH = System("arch", None)
ALPINE = System("alpine", "3.20")

# Each row reproduces the cleanup of a real RUN (its source above it): words that do not change
# the cleanup (packages, unrelated commands) are shortened, an `update` of the original is an
# `install` where the row says so (pinner adds a cleanup to installing and upgrading RUNs
# only, not to a metadata refresh).
REAL: list[tuple[Manager, System, str, str | None]] = [
    # UKHomeOffice/docker-centos-base Dockerfile (install for the original's update)
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && dnf clean all -y && rm -rf /var/cache/dnf",
        f"rm -rf {DNF4}",
    ),
    # UKHomeOffice/docker-centos-base Dockerfile: updates only, nothing pinner records, but
    # dnf's history and logs are written all the same
    (
        rpm.MANAGER,
        EL8,
        "dnf update -y \\\n  && dnf autoremove -y \\\n  && dnf clean all -y \\\n"
        "  && rm -rf /var/cache/dnf",
        f"rm -rf {DNF4}",
    ),
    # UKHomeOffice/docker-centos-base Dockerfile (centos7): a clean before and after
    (
        rpm.MANAGER,
        EL7,
        "yum clean all && yum install yum-plugin-ovl && yum update -y && yum clean all"
        " && rpm --rebuilddb",
        f"rm -rf {YUM3}",
    ),
    # bgray-at-rh/mlcc MLCC_Frags/100_Operating_Systems.excl/177_Fedora28.frag (install for
    # update): a clean before the install empties nothing the install fetches, but the relative
    # rm after `cd /var/cache` removes the cache.
    (
        rpm.MANAGER,
        System("fedora", "28"),
        "set -vx \\\n&& yum clean all \\\n&& yum -y install git \\\n&& cd /var/cache \\\n"
        "&& /bin/rm -rf dnf yum",
        f"rm -rf {DNF4}",
    ),
    # tgagor/docker-centos Dockerfile.tpl (install for upgrade): find -delete removes the logs.
    (
        rpm.MANAGER,
        EL8,
        "dnf install --setopt=install_weak_deps=False -y curl && \\\n    dnf clean all && \\\n"
        "    rm -rf /tmp/* && \\\n    rm -rf /var/cache/yum && \\\n"
        "    rm -rf /var/cache/dnf && \\\n    find /var/log -type f -name '*.log' -delete",
        f"rm -rf /var/lib/dnf/history.* {AUX}",
    ),
    # redhat-developer/devspaces-theia conf/theia-endpoint-runtime-binary/ubi8-brew/
    # runtime-from.dockerfile: an update of named packages is not an install pinner records,
    # and it writes microdnf's history all the same
    (
        rpm.MANAGER,
        System("rhel", "8.1"),
        "microdnf update -y nodejs npm systemd && microdnf clean all && rm -rf /var/cache/yum && \\\n"
        '    echo "Installed Packages" && rpm -qa | sort -V && echo "End Of Installed Packages"',
        f"rm -rf {MICRODNF}",
    ),
    # redhat-developer/devspaces-theia (the same tail after an install)
    (
        rpm.MANAGER,
        System("rhel", "8.1"),
        "microdnf install -y nodejs && microdnf clean all && rm -rf /var/cache/yum",
        f"rm -rf {MICRODNF}",
    ),
    # ralvares/base-image Dockerfile: clean all with --enablerepo='*' after the options
    (
        rpm.MANAGER,
        System("rhel", "8.9"),
        "HOME=/root && \\\nmicrodnf install curl wget -y && \\\n"
        "microdnf update -y && microdnf -y clean all --enablerepo='*'",
        f"rm -rf {MICRODNF}",
    ),
    # stackrox/collector collector/container/rhel/install.sh, as one RUN
    (
        rpm.MANAGER,
        System("rhel", "9.4"),
        "microdnf upgrade -y --nobest && microdnf install -y elfutils-libelf && microdnf clean all"
        " && rpm --verbose -e --nodeps $(rpm -qa '*rpm*' '*dnf*') && rm -rf /var/cache/yum",
        f"rm -rf {MICRODNF}",
    ),
    # stackrox/collector's tail on Fedora 40, where microdnf is dnf5
    (
        rpm.MANAGER,
        System("fedora", "40"),
        "microdnf install -y elfutils-libelf && microdnf clean all && rm -rf /var/cache/yum",
        f"rm -rf {DNF5}",
    ),
    # codatory/docker-centos-base Dockerfile: a URL's RPM is not pinned, but yum fills its
    # cache and history all the same
    (
        rpm.MANAGER,
        System("centos", "7"),
        "yum install -y https://dl.fedoraproject.org/pub/epel/epel-release-latest-7.noarch.rpm",
        f"yum clean all && rm -rf {YUM3}",
    ),
    # codatory/docker-centos-base Dockerfile and kevensen/silver Dockerfile, after an install
    (
        rpm.MANAGER,
        EL7,
        "yum install -y httpd \\\n    && yum clean all \\\n    && rm -rf /var/cache/yum/*",
        f"rm -rf {YUM3}",
    ),
    # pymor/image-buildah Dockerfile: the glob takes three of dnf's logs, not hawkey.log
    (
        rpm.MANAGER,
        System("fedora", "29"),
        "dnf update -y \\\n  && dnf install -y \\\n    buildah \\\n    git \\\n  && rm -rf \\\n"
        "    /usr/lib64/python3.6/__pycache__/ \\\n    /var/cache/dnf/ \\\n    /var/log/dnf*.log",
        f"rm -rf /var/lib/dnf/history.* /var/log/hawkey.log {AUX}",
    ),
    # yms06034/streamdocs-os-compatibility-test rocky-stable/rocky-8.9-stable.Dockerfile
    (
        rpm.MANAGER,
        System("rocky", "8.9"),
        "dnf install -y --allowerasing \\\n    procps-ng \\\n    iproute \\\n    gzip && \\\n"
        "  dnf clean all && \\\n  rm -rf /var/cache/dnf/*",
        f"rm -rf {DNF4}",
    ),
    # pycgo/pydocker Dockerfile: the rm goes after the RUN's last command
    (
        rpm.MANAGER,
        System("rocky", "8.5"),
        "dnf install python38 -y  && \\\n    dnf clean all && \\\n"
        "    pip3 install -r /requirements.txt",
        f"rm -rf {DNF4}",
    ),
    # gfphoenix78/cloudberry-docker images/rockylinux9.Dockerfile
    (
        rpm.MANAGER,
        System("rocky", "9"),
        "dnf install -y epel-release",
        f"dnf clean all && rm -rf {DNF4}",
    ),
    # rradczewski/hatter _common/zfs.snippet.Containerfile: caches mounted with dst=
    (
        rpm.MANAGER,
        F42,
        "--mount=type=cache,dst=/var/cache/dnf \\\n    --mount=type=cache,dst=/var/cache/libdnf5 \\\n"
        "\tdnf install -y https://zfsonlinux.github.io/fedora/zfs-release-3-0.noarch.rpm \\\n"
        "\t&& dnf install -y zfs zfs-dkms zfs-dracut \\\n"
        '\t&& dracut -f --add-drivers "zfs" --verbose --regenerate-all',
        f"rm -rf {DNF5}",
    ),
    # Kitware's fedora:42 dnf-cache stage (a search excerpt that names no repository), with named
    # packages for the original's $(grep …): dnf5's cache is not the mounted /var/lib/dnf
    (
        rpm.MANAGER,
        F42,
        "--mount=type=bind,source=dnf.conf,target=/etc/dnf/dnf.conf \\\n"
        "    --mount=type=cache,target=/var/lib/dnf \\\n"
        "    --mount=type=tmpfs,target=/var/log \\\n    dnf install -y gcc",
        f"dnf clean all && rm -rf /usr/lib/sysimage/libdnf5/transaction_history.* {AUX}",
    ),
    # vittel1/julea container/docker/github/install-centos-packages.sh, as one RUN
    (
        rpm.MANAGER,
        EL8,
        "dnf -y install --setopt=install_weak_deps=False \\\n        curl \\\n        unzip && \\\n"
        "  dnf -y install git && \\\n  dnf clean all && \\\n  rm -rf /var/cache/yum",
        f"rm -rf {DNF4}",
    ),
    # RedHatGov/redhatgov.workshops devsecops-workshop/scripts/quay/Dockerfile: the package list
    # in a variable is expanded, so the install is seen and gets its cleanup (the clean before it
    # does not count)
    (
        rpm.MANAGER,
        System("rhel", "7"),
        "yum repolist > /dev/null && \\\n    yum clean all && \\\n"
        '    INSTALL_PKGS="skopeo" && \\\n'
        "    yum install -y --setopt=tsflags=nodocs $INSTALL_PKGS && \\\n    rpm -V $INSTALL_PKGS",
        f"yum clean all && rm -rf {YUM3}",
    ),
    (rpm.MANAGER, System("rhel", "7"), "yum install sshpass -y", f"yum clean all && rm -rf {YUM3}"),
    # xrowgmbh/docker-s2i Dockerfile
    (
        rpm.MANAGER,
        EL7,
        "yum update -y && \\\n    yum install -y centos-release-scl && \\\n"
        "\tyum -y install source-to-image && \\\n\tyum clean all",
        f"rm -rf {YUM3}",
    ),
    # Telefónica's Short Time Historic (STH) Dockerfile on centos:6 (a search excerpt that names
    # no repository): yum 3's history and log removed by hand, /var/log/*log after the last yum
    (
        rpm.MANAGER,
        System("centos", "6"),
        "yum install -y gcc-c++ make \\\n"
        "  && rpm -e --nodeps redhat-logos || true && yum -y erase libss \\\n"
        "  && yum clean all && rm -rf /var/lib/yum/yumdb \\\n"
        "  && rm -rf /var/lib/yum/history && rm -f /var/log/*log && npm cache clean",
        f"rm -rf {AUX}",
    ),
    # An EL 7 image-cleanup script (a search excerpt that names no repository), after an install:
    # the emptied yum.log counts as removed
    (
        rpm.MANAGER,
        EL7,
        "yum install -y httpd && yum clean all && truncate -c -s 0 /var/log/yum.log",
        f"rm -rf /var/lib/yum/history {AUX}",
    ),
    # dnf's logs emptied by redirections alone (no real file with these forms found); the glob is
    # not expanded in a redirection, so `> /var/log/dnf*.log` empties none of them
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && dnf clean all && > /var/log/dnf.log"
        " && > /var/log/dnf.librepo.log && : >| /var/log/dnf.rpm.log"
        " && cat /dev/null > /var/log/hawkey.log",
        f"rm -rf /var/lib/dnf/history.* {AUX}",
    ),
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && dnf clean all && : > /var/log/dnf*.log"
        " && cat /dev/null /var/log/dnf.log > /var/log/hawkey.log",
        f"rm -rf {DNF4}",
    ),
    # tkdchen/docker-hello-world Dockerfile
    (
        rpm.MANAGER,
        System("fedora", "32"),
        "dnf update -y && \\\n    dnf install -y which dnf-utils neovim gcc && \\\n"
        "    dnf clean all",
        f"rm -rf {DNF4}",
    ),
    # SchedMD's Slurm image Dockerfile, rockylinux:9 build stage (a search excerpt that names no
    # repository): a heredoc RUN, joined on its last command line
    (
        rpm.MANAGER,
        System("rocky", "9"),
        "<<EOR\ndnf -q makecache --refresh\n# For: Slurm RPM build\n"
        "dnf -q -y install --setopt='install_weak_deps=False' \\\n"
        "  '@Development' rpm-build 'dnf-command(builddep)' epel-release\n"
        "dnf -q config-manager --enable crb\n"
        "dnf -q -y install --setopt='install_weak_deps=False' \\\n  curl-minimal jq\n"
        "  dnf clean all\nEOR",
        f"rm -rf {DNF4}",
    ),
    # sclorg/s2i-base-container base/Dockerfile.f41 (the package list shortened): the words in
    # the variable are read, so dnf5's history and log are removed after its clean
    (
        rpm.MANAGER,
        System("fedora", "41"),
        'INSTALL_PKGS="autoconf \\\n  automake \\\n  zlib-devel" && \\\n'
        "  dnf install -y --setopt=tsflags=nodocs $INSTALL_PKGS && \\\n"
        "  rpm -V $INSTALL_PKGS && \\\n  dnf clean all -y",
        f"rm -rf {DNF5}",
    ),
    # containers/toolbox images/fedora/f39/Containerfile: a list read from a file is not
    # recorded, but what it installs leaves dnf's cache, history and logs
    (
        rpm.MANAGER,
        System("fedora", "39"),
        "dnf -y install $(<extra-packages)",
        f"dnf clean all && rm -rf {DNF4}",
    ),
    # A ubi-micro build script (a search excerpt that names no repository): an install into
    # another root is not recorded, so its own cleanup stays alone
    (
        rpm.MANAGER,
        System("rhel", "9.4"),
        "dnf install --installroot /mnt/rootfs --releasever 9 --nodocs -y coreutils-single"
        " && dnf --installroot /mnt/rootfs clean all"
        " && rm -rf /mnt/rootfs/var/cache/* /mnt/rootfs/var/log/dnf* /mnt/rootfs/var/log/yum.*",
        None,
    ),
    # containers/toolbox images/arch/Containerfile: package words on stdin, and words through xargs
    (
        pacman.MANAGER,
        ARCH,
        "pacman -Syu --needed --noconfirm - < extra-packages",
        f"rm -rf /var/cache/pacman/pkg/* {PACMAN}",
    ),
    (
        pacman.MANAGER,
        ARCH,
        "mkdir -p /usr/share/man && pacman -Qo /usr/share/man | awk '{print $5}'"
        " | xargs pacman -S --noconfirm man-db",
        f"rm -rf /var/cache/pacman/pkg/* {PACMAN}",
    ),
    # passcod/docker-arch-updated Dockerfile (install for the original's -Syyu)
    (
        pacman.MANAGER,
        ARCH,
        "pacman -Sy --noprogressbar --noconfirm &&\\\n"
        "  pacman -S pacman --noprogressbar --noconfirm &&\\\n  pacman-db-upgrade &&\\\n"
        "  pacman -Scc --noconfirm &&\\\n  rm -rf /var/cache/pacman/pkg/*",
        f"rm -rf {PACMAN}",
    ),
    # Ranthrall/archmake-devel Dockerfile: -Scc --noconfirm answers no, the cache stays
    (
        pacman.MANAGER,
        ARCH,
        "sed -i 's/Required/Never/g' /etc/pacman.conf && \\\n"
        "    pacman -Syyu --noconfirm --ignore filesystem --ignore systemd && \\\n"
        "    pacman-db-upgrade && \\\n    pacman -S base-devel git --noconfirm && \\\n"
        "    pacman -Rcns systemd --noconfirm && \\\n    pacman -Scc --noconfirm && \\\n"
        "    rm -rf /home /srv /mnt /opt /boot /root /tmp/* /var/tmp/*",
        f"rm -rf /var/cache/pacman/pkg/* {PACMAN}",
    ),
    # skoppe/drun Dockerfile: paccache -rk0 with its output sent away
    (
        pacman.MANAGER,
        ARCH,
        "pacman --noconfirm -Sy libevent && \\\n    rm -r /usr/share/info/* && \\\n"
        '    find /. -name "*~" -type f -delete && \\\n'
        "    bash -c \"echo 'y' | pacman -Scc >/dev/null 2>&1\" && \\\n"
        "    paccache -rk0 >/dev/null 2>&1 &&  \\\n    pacman-optimize && \\\n"
        "    rm -r /var/lib/pacman/sync/*",
        f"rm -rf {PACMAN}",
    ),
    # gomasy/update_name Dockerfile
    (
        pacman.MANAGER,
        ARCH,
        "pacman -S --noconfirm cowsay",
        f"rm -rf /var/cache/pacman/pkg/* {PACMAN}",
    ),
    # afq984/docker-archlinux-devtools Dockerfile: the cache on a tmpfs
    (
        pacman.MANAGER,
        ARCH,
        "--mount=type=tmpfs,target=/var/cache/pacman \\\n"
        "    pacman -Syu --noconfirm base-devel devtools sudo",
        f"rm -rf {PACMAN}",
    ),
    # cyyever/cbuild scripts/package_manager/pacman.sh, as one RUN
    (
        pacman.MANAGER,
        ARCH,
        "pacman -S --needed --noconfirm git && rm -rf /var/cache/pacman/pkg/"
        " && pacman -Scc --noconfirm",
        f"rm -rf {PACMAN}",
    ),
    # DanySK/docker-manjaro-pamac Dockerfile
    (
        pacman.MANAGER,
        System("manjaro", None),
        "pacman -Sy --noconfirm pamac-cli libsoup3",
        f"rm -rf /var/cache/pacman/pkg/* {PACMAN}",
    ),
    # owent/docker-setup arch.router.Dockerfile (packages shortened): `echo "" >` leaves one
    # empty line in the log, the same in every build, so only ldconfig's cache is left
    (
        pacman.MANAGER,
        ARCH,
        "set -ex ; \\\n    pacman -Syyu --noconfirm ; \\\n"
        "    pacman -Syy --noconfirm ca-certificates tzdata ; \\\n"
        "    pacman -S -cc --noconfirm; \\\n"
        "    rm -rf /var/lib/pacman/sync/* /var/cache/pacman/pkg/* ; \\\n"
        '    echo "" > /var/log/pacman.log ;',
        f"rm -rf {AUX}",
    ),
    # The same RUN emptying the log (no real file with this form found): an empty log is the same
    # in every build, so only ldconfig's cache is left
    (
        pacman.MANAGER,
        ARCH,
        "pacman -Syy --noconfirm tzdata ; \\\n"
        "    rm -rf /var/lib/pacman/sync/* /var/cache/pacman/pkg/* ; \\\n"
        "    : > /var/log/pacman.log ;",
        f"rm -rf {AUX}",
    ),
    # yast/yast-pkg-bindings Dockerfile
    (
        zypper.MANAGER,
        LEAP,
        "zypper --gpg-auto-import-keys --non-interactive in --no-recommends \\\n"
        "  libzypp-devel yast2-ruby-bindings iproute2",
        f"zypper clean -a && rm -rf {ZYPPER}",
    ),
    # exitfound/faj dockerfiles/opensuse15.4.dockerfile
    (
        zypper.MANAGER,
        LEAP,
        "zypper update --no-recommends --force-resolution --no-confirm \\\n"
        "    && zypper install --no-recommends --no-confirm \\\n        ansible \\\n"
        "        sudo \\\n    && zypper clean --all \\\n    && rm -rf /usr/share/doc \\\n"
        "    && rm -rf /usr/share/man",
        f"rm -rf {ZYPPER}",
    ),
    # mengzdsd/docker-opensuse-base Dockerfile
    (
        zypper.MANAGER,
        LEAP,
        "zypper -qn --gpg-auto-import-keys ref \\\n"
        "  && echo 'TIMEZONE=\"Asia/Chongqing\"' > /etc/sysconfig/clock \\\n"
        "  && zypper -qn in --no-recommends timezone which vim iproute2 \\\n  && zypper clean -a",
        f"rm -rf {ZYPPER}",
    ),
    # macedogm/rancher-obs-image Dockerfile (its install and cleanup RUNs as one): /var/log/*
    (
        zypper.MANAGER,
        System("opensuse-tumbleweed", None),
        "zypper -n in gh && zypper clean -a && \\\n"
        "     rm -rf /tmp/* /var/tmp/* /usr/share/doc/packages/* /var/log/*",
        f"rm -rf /var/lib/zypp/AnonymousUniqueId {AUX}",
    ),
    # regina-normal/aux packaging/docker/pkgdev/opensuse-tumbleweed-amd64.Dockerfile (its install
    # and clean RUNs as one): plain `zypper clean` keeps the metadata it downloaded
    (
        zypper.MANAGER,
        System("opensuse-tumbleweed", None),
        "zypper install -y --no-recommends \\\n\trpm-build appstream-glib \\\n\tgit vim"
        " && zypper clean",
        f"zypper clean -a && rm -rf {ZYPPER}",
    ),
    # konstruktoid/container-alpine-build Dockerfile
    (
        apk.MANAGER,
        ALPINE,
        "\\\n    apk update && \\\n    apk upgrade && \\\n    rm -rf /var/cache/apk/*",
        None,
    ),
    # archlinux/archlinux-docker Dockerfile.template (its Alpine build stage)
    (apk.MANAGER, ALPINE, "apk add --no-cache curl tar zstd", None),
    # tockim/base Dockerfile
    (
        apk.MANAGER,
        ALPINE,
        "apk update && apk upgrade \\\n  && apk add ca-certificates \\\n  && rm -rf /var/cache/apk/*",
        None,
    ),
    # opsnow-tools/valve-builder Dockerfile
    (
        apk.MANAGER,
        ALPINE,
        "apk --no-cache update && \\\n    apk --no-cache add git zip curl bash && \\\n"
        "    rm -rf /var/cache/apk/*",
        None,
    ),
    # Franselbaer/travis-ci-test Dockerfile
    (
        apk.MANAGER,
        ALPINE,
        "apk update && apk add --update alpine-sdk",
        "rm -rf /var/cache/apk/*",
    ),
    # kabbya5/docker-ci-cd-document Dockerfile
    (apk.MANAGER, ALPINE, "apk add --update gcc", "rm -rf /var/cache/apk/*"),
    # A golang:1.23rc2-alpine Dockerfile (a search excerpt that names no repository): apk-tools'
    # `cache clean` (app_cache.c) keeps each configured repository's index, so the rm is needed
    (
        apk.MANAGER,
        ALPINE,
        "apk update \\\n    && apk add apache2 atop libcap bash jq \\\n    && apk cache clean",
        "rm -rf /var/cache/apk/*",
    ),
    # The same for `cache purge` (it removes more packages, not the indexes) and `cache -v sync`
    (apk.MANAGER, ALPINE, "apk add curl && apk cache purge", "rm -rf /var/cache/apk/*"),
    (apk.MANAGER, ALPINE, "apk add curl && apk cache -v sync", "rm -rf /var/cache/apk/*"),
    # andrico21's rsyslog Dockerfile on alpine:edge (a search excerpt that names no repository)
    (
        apk.MANAGER,
        ALPINE,
        "apk update && apk upgrade && apk add --no-cache bash rsyslog && apk cache clean"
        " && rm -rf /var/cache/apk",
        None,
    ),
    # ohsome-planet's eclipse-temurin:21-jre-alpine stage (a search excerpt that names no
    # repository): with /etc/apk/cache a folder, apk keeps its indexes there (apk-tools'
    # setup_cache, apk-cache(5)), in the mount, and writes nothing to /var/cache/apk
    (
        apk.MANAGER,
        ALPINE,
        "--mount=type=cache,target=/etc/apk/cache apk add --update-cache libstdc++",
        None,
    ),
    # A squidfunk/mkdocs-material based Dockerfile (a search excerpt that names no repository):
    # both cache folders mounted
    (
        apk.MANAGER,
        ALPINE,
        "\\\n    --mount=type=cache,target=/var/cache/apk \\\n"
        "    --mount=type=cache,target=/etc/apk/cache \\\n"
        "    apk add nodejs npm build-base python3",
        None,
    ),
    # An rm before the apk command that fills the cache, and a mere mention of the folder, leave
    # the indexes (no real file with these forms found)
    (apk.MANAGER, ALPINE, "rm -rf /var/cache/apk/* && apk add curl", "rm -rf /var/cache/apk/*"),
    (apk.MANAGER, ALPINE, "apk add curl && ls /var/cache/apk", "rm -rf /var/cache/apk/*"),
    (apk.MANAGER, ALPINE, "apk add curl && : > /var/cache/apk/x", "rm -rf /var/cache/apk/*"),
    # An ansible-automation-platform ee-supported-rhel8 based Dockerfile (a search excerpt that
    # names no repository): braces, which bash, the RHEL family's /bin/sh, expands
    (
        rpm.MANAGER,
        System("rhel", "8.4"),
        "microdnf install -y nodejs npm chromium chromedriver \\\n  && microdnf clean all \\\n"
        "  && rm -rf /var/cache/{dnf,yum} ",
        f"rm -rf {MICRODNF}",
    ),
    # Braces that name the cache and logs (no real file with this form found): bash expands
    # them on Fedora, openSUSE and Arch; quoted, it keeps them.
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && rm -rf /var/cache/{dnf,yum} /var/log/{dnf*,hawkey.log}",
        f"rm -rf /var/lib/dnf/history.* {AUX}",
    ),
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && rm -rf '/var/cache/{dnf,yum}' /var/log/{dnf*,hawkey.log}",
        f"dnf clean all && rm -rf {DNF4}",
    ),
    (
        zypper.MANAGER,
        LEAP,
        "zypper -n in curl && rm -rf /var/cache/{zypp,x} /var/log/{zypp*,y}",
        f"rm -rf /var/lib/zypp/AnonymousUniqueId {AUX}",
    ),
    (
        pacman.MANAGER,
        ARCH,
        "pacman -S --noconfirm curl && rm -rf /var/{cache/pacman/pkg/*,log/pacman.log}",
        f"rm -rf {AUX}",
    ),
    # BusyBox ash, Alpine's /bin/sh, keeps the braces: the rm removes a folder named
    # `{apk,misc}`, so the index cache is still there
    (
        apk.MANAGER,
        ALPINE,
        "apk add curl && rm -rf /var/cache/{apk,misc}/*",
        "rm -rf /var/cache/apk/*",
    ),
    # find -exec on the logs (the form of cleanup scripts found by search, which name no
    # repository: `find /var/log -type f -exec truncate -s 0 {} \;` in a VM cleanup, with
    # `-name "*.log"` in a CentOS 9 template script)
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && dnf clean all && find /var/log -type f -exec truncate -s 0 {} \\;",
        f"rm -rf /var/lib/dnf/history.* {AUX}",
    ),
    (
        rpm.MANAGER,
        EL8,
        'dnf install -y curl && dnf clean all \\\n  && find /var/log -type f -name "*.log"'
        " -exec truncate -s 0 {} \\;",
        f"rm -rf /var/lib/dnf/history.* {AUX}",
    ),
    (
        pacman.MANAGER,
        ARCH,
        "pacman -S --noconfirm curl && rm -rf /var/cache/pacman/pkg/*"
        " && find /var/log /var/cache/ldconfig -type f -exec rm -f {} +",
        None,
    ),
    # A relative rm after a cd (the `cd DIR && rm -f *` of a cleaner script found by search,
    # which names no repository), for apk (tidy13's `cd /var/cache/apk && rm -rf *`)
    (apk.MANAGER, ALPINE, "apk add curl && cd /var/cache/apk && rm -rf *", None),
    (apk.MANAGER, ALPINE, "cd /var/cache && apk add curl && rm -rf apk", None),
    # A cd that does not hold for the rm: in a subshell, through a pipe, after ||, a variable.
    (
        apk.MANAGER,
        ALPINE,
        "apk add curl && (cd /var/cache/apk && ls) && rm -rf *",
        "rm -rf /var/cache/apk/*",
    ),
    (
        apk.MANAGER,
        ALPINE,
        "apk add curl && cd /var/cache/apk | true && rm -rf *",
        "rm -rf /var/cache/apk/*",
    ),
    (
        apk.MANAGER,
        ALPINE,
        "apk add curl && cd /var/cache/apk || rm -rf *",
        "rm -rf /var/cache/apk/*",
    ),
    (apk.MANAGER, ALPINE, "apk add curl && cd $CACHE && rm -rf *", "rm -rf /var/cache/apk/*"),
    # A clean or rm before the command that fetches leaves the cache it fills (no real file
    # with these forms found); an appended clean logs again, so the logs' rm comes after it.
    (
        zypper.MANAGER,
        LEAP,
        "zypper clean -a && zypper -n in curl && rm -rf /var/log/zypp*",
        f"zypper clean -a && rm -rf {ZYPPER}",
    ),
    (
        zypper.MANAGER,
        LEAP,
        "rm -rf /var/cache/zypp && zypper -n in curl",
        f"zypper clean -a && rm -rf {ZYPPER}",
    ),
    (
        pacman.MANAGER,
        ARCH,
        "rm -rf /var/cache/pacman/pkg/* && pacman -S --noconfirm curl",
        f"rm -rf /var/cache/pacman/pkg/* {PACMAN}",
    ),
    (
        pacman.MANAGER,
        ARCH,
        "yes | pacman -Scc && pacman -S --noconfirm curl && rm -rf /var/log/pacman.log",
        f"rm -rf /var/cache/pacman/pkg/* {AUX}",
    ),
    (
        rpm.MANAGER,
        EL8,
        "dnf install -y curl && rm -rf /var/log/dnf* /var/log/hawkey.log",
        f"dnf clean all && rm -rf {DNF4}",
    ),
]


@pytest.mark.parametrize(
    ("manager", "system", "run", "expected"),
    REAL,
    ids=[f"{row[0].name}-{i}" for i, row in enumerate(REAL)],
)
def test_real_cleanups(manager: Manager, system: System, run: str, expected: str | None) -> None:
    system = system._replace(mounts=tuple(mounted(run)))  # as the rewrite reads a RUN's flags
    assert manager.cleanup(run, run_invocations(run), system) == expected
    if expected is None:
        return
    joined, note = join_cleanup(run, expected, escape="\\", nl="\n")
    assert note is None
    assert shell_syntax.run_errors(f"RUN {joined}\n") == []
    # A second lock of the rewritten RUN appends nothing.
    assert manager.cleanup(joined, run_invocations(joined), system) is None


@pytest.mark.parametrize(
    ("run", "files"),
    [
        (": > /var/log/pacman.log", ["/var/log/pacman.log"]),
        ("> /var/log/dnf.log", ["/var/log/dnf.log"]),
        ("true >| /var/log/a 2> /var/log/b", ["/var/log/a", "/var/log/b"]),
        ("cat /dev/null > /var/log/yum.log", ["/var/log/yum.log"]),
        ("truncate -s 0 /var/log/*.log /var/log/apt/*", ["/var/log/*.log", "/var/log/apt/*"]),
        ("truncate -c -s0 a", ["a"]),
        ("truncate -cs 0 a", ["a"]),
        ("truncate --size=0 --no-create a", ["a"]),
        ("truncate --size 0 -- a", ["a"]),
        # Text that is the same in every build.
        ("echo x > /var/log/a", ["/var/log/a"]),
        ('echo "" > /var/log/pacman.log', ["/var/log/pacman.log"]),
        ("echo -n > /var/log/a", ["/var/log/a"]),
        ("printf '' > /var/log/a", ["/var/log/a"]),
        ("printf 'reset\\n' > /var/log/a", ["/var/log/a"]),
        # Output that may differ, appended, or to a target the shell does not expand: nothing.
        ('echo "$(date)" > /var/log/a', []),
        ("echo $HOME > /var/log/a", []),
        ("printf '%(%s)T' > /var/log/a", []),
        ("printf '%s' x > /var/log/a", []),
        ("printf -v x '' > /var/log/a", []),
        ("date > /var/log/a", []),
        ("echo >> /var/log/a", []),
        (": >> /var/log/a", []),
        (": > /var/log/*.log", []),
        (": > $LOG", []),
        ("cat /dev/null /var/log/b > /var/log/a", []),
        ("cat /var/log/b > /var/log/a", []),
        ("truncate -s 1 a", []),
        ("truncate -s +0 a", []),
        ("truncate -r ref a", []),
        ("truncate -s 0 $LOG", []),
        ("truncate -s", []),
    ],
)
def test_emptied_files(run: str, files: list[str]) -> None:
    assert [path for invocation in run_invocations(run) for path in emptied(invocation)] == files


@pytest.mark.parametrize(
    ("run", "removed"),
    [
        ("find /var/log -type f -name '*.log' -delete", ["/var/log/*.log"]),
        ("find /var/log -type f -exec truncate -s 0 {} \\;", ["/var/log"]),
        ("find /var/log -type f -exec truncate --size=0 {} +", ["/var/log"]),
        ("find /var/log -type f -exec /bin/rm -f {} ';'", ["/var/log"]),
        ("find /var/log -type f -exec cp /dev/null {} \\;", ["/var/log"]),
        ("cd /var && find log -type f -delete", ["/var/log"]),
        # find's list through xargs.
        ("find /var/log -type f | xargs truncate -s 0", ["/var/log"]),
        ("find /var/log -type f -print0 | xargs -0 rm -f", ["/var/log"]),
        ("find /var/log -name '*.log' | xargs -r rm", ["/var/log/*.log"]),
        ("find /var/log -type f | xargs gzip", []),
        ("find /var/log -type f | xargs truncate -s 1", []),
        ("find /var/log -mtime +1 | xargs rm", []),
        ("ls /var/log | xargs rm", []),
        ("find /var/log -type f -exec truncate -s 1 {} \\;", []),
        ("find /var/log -type f -exec gzip {} \\;", []),
        ("find /var/log -type f -exec rm {} \\; -print", []),
        ("find /var/log -type f -exec rm {} x \\;", []),
        ("find /var/log -mtime -1 -type f -exec truncate -s 0 {} \\;", []),
        ("find /var/log /tmp -xdev -type f -delete", ["/var/log", "/tmp"]),
        ("find /var/log/ -mindepth 1 -delete", ["/var/log/"]),
        # find applies its tests in order: this -delete removes every file.
        ("find /var/log -delete -name '*.log'", []),
        ("find /var/log -type f -mtime +1 -delete", []),
        ("find / -xdev \\( -name '*.pyc' -o -name '*.pyo' \\) -delete", []),
        ("find /var/log -name '*.log'", []),
        ("find -delete", []),
        # -execdir acts on the same files as -exec (PKGBUILDs' `find … -type f -execdir rm {} +`).
        ("find /var/log -type f -execdir rm {} +", ["/var/log"]),
        ("find /var/log -type f -execdir truncate -s 0 {} \\;", ["/var/log"]),
        ("find /var/log -type f -execdir gzip {} \\;", []),
        # A shell started on each file: the script's one command takes it as $1 (all as $@ with
        # +), or in place of a {} inside the script.
        ("find /var/log -type f -exec sh -c 'rm -rf \"$1\"' _ {} \\;", ["/var/log"]),
        ("find /var/log -type f -exec sh -c 'rm -f $1' sh {} ';'", ["/var/log"]),
        ("find /var/log -type f -exec bash -c ': > \"${1}\"' _ {} \\;", ["/var/log"]),
        ("find /var/log -type f -exec sh -c 'truncate -s 0 \"$@\"' _ {} +", ["/var/log"]),
        ('find /var/log -type f -exec sh -c "cat /dev/null > {}" \\;', ["/var/log"]),
        ("find /var/log -type f -exec sh -c 'echo > {}' \\;", ["/var/log"]),
        # + hands each script many files: "$1" is only the first.
        ("find /var/log -type f -exec sh -c 'rm -f \"$1\"' _ {} +", []),
        ("find /var/log -type f -exec sh -c 'rm -f \"$2\"' _ {} \\;", []),
        ("find /var/log -type f -exec sh -c 'rm -f \"$1\" x' _ {} \\;", []),
        ("find /var/log -type f -exec sh -c 'gzip \"$1\"' _ {} \\;", []),
        ('find /var/log -type f -exec sh -c \'rm -f "$1"; date > "$1"\' _ {} \\;', []),
        ("find /var/log -type f -exec sh -c 'date > \"$1\"' _ {} \\;", []),
        ("find /var/log -type f -exec sh -c 'rm -f \"$1\"' {} \\;", []),
        ("find /var/log -type f -exec sh -c 'rm -f {}' {} +", []),
        ("find /var/log -type f -exec sh script.sh {} \\;", []),
        # xargs -I puts each line where its replace string stands.
        ("find /var/log -name '*.log' -print | xargs -I{} rm -rf {}", ["/var/log/*.log"]),
        ("find /var/log -type f | xargs -I {} truncate -s 0 {}", ["/var/log"]),
        ("find /var/log -type f | xargs -i cp /dev/null {}", ["/var/log"]),
        ("find /var/log -type f | xargs --replace=F rm -f F", ["/var/log"]),
        ("find /var/log -type f | xargs -I{} rm -rf {}.old", []),
        ("find /var/log -type f | xargs -I{} rm -rf {} /x", ["/x"]),
        ("find /var/log -type f | xargs -I{} gzip {}", []),
        ("find /var/log -type f | xargs cp /dev/null", []),
    ],
)
def test_find_delete_removes(run: str, removed: list[str]) -> None:
    assert removed_paths(run_invocations(run), run) == removed


# apt's cleanup of real RUNs: removals count only after the last command that changes packages.
APT_CLEANUP = (
    "apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/dpkg.log"
    " /var/log/apt/* /var/log/alternatives.log /var/cache/ldconfig/aux-cache"
)
APT_LOGS = (
    "/var/log/dpkg.log /var/log/apt/* /var/log/alternatives.log /var/cache/ldconfig/aux-cache"
)
APT: list[tuple[str, str | None]] = [
    # A cypress/included based Dockerfile (a search excerpt that names no repository): the clean
    # and rm come before `apt-get update`, which fetches the lists again
    (
        "apt-get clean && rm -rf /var/lib/apt/lists/* && apt-get update"
        " && apt-get install -y default-jdk",
        APT_CLEANUP,
    ),
    # A ROS Dockerfile's `rm -rf /var/lib/apt/lists/* && apt-get update -q && apt-get install`
    # (a search excerpt that names no repository)
    (
        "rm -rf /var/lib/apt/lists/* && apt-get update -q \\\n"
        "\t&& apt-get install -qq -y --no-install-recommends \\\n\tapt-utils ssh vim",
        APT_CLEANUP,
    ),
    # A yt-dlp service's Dockerfile (a search excerpt that names no repository): the rm after
    # the install removes the lists
    (
        "rm -rf /var/lib/apt/lists/* && apt-get update && apt-get install -y"
        " --no-install-recommends \\\n    ffmpeg \\\n    nodejs \\\n"
        "    && rm -rf /var/lib/apt/lists/*",
        f"apt-get clean && rm -rf /var/cache/apt/*.bin {APT_LOGS}",
    ),
    # A PHP image's `apt-get update -yqq && apt-get install … && rm -rf /var/lib/apt/lists/* &&
    # apt-get purge -y --auto-remove` (a search excerpt that names no repository; a common
    # form): the purge fetches no lists, but writes dpkg's and apt's logs
    (
        "apt-get update -yqq && \\\n    apt-get install -y \\\n    vim \\\n    zip && \\\n"
        "    rm -rf /var/lib/apt/lists/* && apt-get purge -y --auto-remove",
        f"apt-get clean && rm -rf /var/cache/apt/*.bin {APT_LOGS}",
    ),
    # apt-get clean before a purge (constructed): the purge downloads nothing, so the archives
    # stay empty, but it writes the *.bin caches and the logs again
    (
        "apt-get update && apt-get install -y gcc curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* && apt-get purge -y gcc",
        f"rm -rf /var/cache/apt/*.bin {APT_LOGS}",
    ),
    # A cleaner script's `cd /var/lib/apt/lists && rm -f *` (search excerpt, no repository)
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && cd /var/lib/apt/lists && rm -f * 2>/dev/null",
        f"rm -rf {APT_LOGS}",
    ),
    # dash, Debian's /bin/sh, keeps braces: the rm removes nothing apt wrote
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/{lists,mirrors}/*",
        f"rm -rf /var/lib/apt/lists/* {APT_LOGS}",
    ),
    # Logs emptied with a fixed text, with find -exec
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/log/apt /var/cache/ldconfig"
        ' && echo "" > /var/log/dpkg.log && printf "" > /var/log/alternatives.log',
        None,
    ),
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/cache/ldconfig"
        " && find /var/log -type f -exec truncate -s 0 {} \\;",
        None,
    ),
    # VM image build scripts' `find /var/log -type f -exec sh -c "cat /dev/null > {}" \;` (search
    # excerpts, "simple-vvm" and others, that name no repository)
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/cache/ldconfig"
        ' && find /var/log -type f -exec sh -c "cat /dev/null > {}" \\;',
        None,
    ),
    # A container entrypoint's `find /app -type d -name node_modules -exec sh -c 'rm -rf "$1"' _
    # {} \;` (search excerpt, no repository), on the logs
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/cache/ldconfig"
        " && find /var/log -type f -exec sh -c 'rm -rf \"$1\"' _ {} \\;",
        None,
    ),
    # MacPatch build scripts' `find DIR -name X -print | xargs -I{} rm -rf {}` (search excerpts,
    # no repository), and PKGBUILDs' `find … -type f -execdir rm {} +` (Arch's postgresql)
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/log/apt"
        " && find /var/log -name '*.log' -print | xargs -I{} rm -rf {}"
        " && find /var/cache/ldconfig -type f -execdir rm {} +",
        None,
    ),
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* && find /var/log -type f | xargs -I{} rm -rf {}.gz",
        f"rm -rf {APT_LOGS}",
    ),
    # The cleaner scripts' `find /var/log -type f | xargs truncate -s 0` (search excerpts that
    # name no repository), with ldconfig's cache left
    (
        "apt-get update && apt-get install -y curl && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* && find /var/log -type f | xargs truncate -s 0",
        "rm -rf /var/cache/ldconfig/aux-cache",
    ),
]


@pytest.mark.parametrize(("run", "expected"), APT, ids=[f"apt-{i}" for i in range(len(APT))])
def test_real_apt_cleanups(run: str, expected: str | None) -> None:
    assert cleanup_for(run) == expected
    if expected is None:
        return
    joined, note = join_cleanup(run, expected, escape="\\", nl="\n")
    assert note is None
    assert shell_syntax.run_errors(f"RUN {joined}\n") == []
    assert cleanup_for(joined) is None


@pytest.mark.parametrize(
    ("run", "braces", "removed"),
    [
        ("rm -rf /var/cache/{dnf,yum}", True, ["/var/cache/dnf", "/var/cache/yum"]),
        ("rm -rf /var/cache/{dnf,yum}", False, ["/var/cache/{dnf,yum}"]),
        (
            "rm -rf /var/{cache/{dnf,yum},log/dnf*}",
            True,
            ["/var/cache/dnf", "/var/cache/yum", "/var/log/dnf*"],
        ),
        # bash keeps quoted or escaped braces, one without a comma, and `{}`.
        ("rm -rf '/var/cache/{dnf,yum}'", True, ["/var/cache/{dnf,yum}"]),
        ("rm -rf /var/cache/\\{dnf,yum}", True, ["/var/cache/{dnf,yum}"]),
        ("rm -rf /var/cache/{dnf}", True, ["/var/cache/{dnf}"]),
        # Too many words from one: left as written.
        ("rm -rf /x" + "{a,b}" * 40, True, ["/x" + "{a,b}" * 40]),
        # A relative path after cd, and from a folder not known.
        (
            "cd /var/cache && rm -rf dnf ../log/dnf.log",
            False,
            ["/var/cache/dnf", "/var/log/dnf.log"],
        ),
        ("cd /var && cd cache && rm -rf apk/", False, ["/var/cache/apk/"]),
        ("cd /var/cache; rm -rf apk", False, ["/var/cache/apk"]),
        ("(cd /var/cache && rm -rf apk) && rm -rf dnf", False, ["/var/cache/apk", "dnf"]),
        ("cd - && rm -rf apk", False, ["apk"]),
        ("cd && rm -rf apk", False, ["apk"]),
    ],
)
def test_braces_and_cd(run: str, braces: bool, removed: list[str]) -> None:
    assert sorted(set(removed_paths(run_invocations(run), run, braces))) == sorted(removed)


@pytest.mark.parametrize(
    ("manager", "system", "run"),
    [
        (rpm.MANAGER, F42, "dnf install -y curl && dnf clean all && rm -rf /var/{log/dnf*,cache/ldconfig} /usr/lib/sysimage/libdnf5"),
        (zypper.MANAGER, LEAP, "zypper -n in curl && zypper clean -a && rm -rf /var/{log/zypp*,cache/ldconfig} /var/lib/zypp/AnonymousUniqueId"),
        (pacman.MANAGER, ARCH, "pacman -S --noconfirm curl && rm -rf /var/{cache/pacman/pkg/*,log/pacman.log,cache/ldconfig}"),
        (apk.MANAGER, ALPINE, "apk add curl && rm -rf /var/cache/{apk,misc}/*"),
    ],
)  # fmt: skip
def test_each_manager_reads_braces_as_the_run_s_shell_does(
    manager: Manager, system: System, run: str
) -> None:
    # The distribution's /bin/sh (bash, but BusyBox ash on Alpine) against a SHELL instruction's.
    expands, keeps = (
        (System(*system[:2], "bash"), system)
        if manager is apk.MANAGER
        else (system, System(*system[:2], "dash"))
    )
    assert manager.cleanup(run, run_invocations(run), expands) is None
    assert manager.cleanup(run, run_invocations(run), keeps) is not None


@pytest.mark.parametrize(
    ("distro", "release", "run", "mount", "dropped"),
    [
        ("fedora", "42", "dnf install -y curl", "/var/cache/libdnf5", "dnf clean all"),
        ("opensuse-leap", "15.6", "zypper -n in curl", "/var/cache/zypp", "zypper clean -a"),
        ("arch", None, "pacman -S --noconfirm curl", "/var/cache/pacman", "/var/cache/pacman"),
        ("alpine", "3.20", "apk add curl", "/var/cache/apk", "/var/cache/apk"),
    ],
)
def test_the_rewrite_reads_a_run_s_mounts_with_the_dockerfile_s_escape(
    distro: str, release: str | None, run: str, mount: str, dropped: str
) -> None:
    # What a RUN's --mount flags keep out of the image is not removed again (an rm there would
    # empty the build's cache), also when a flag stands on the RUN's next line after `# escape=\``.
    def cleanup(text: str) -> str:
        parsed = dockerfile.parse(text, "Dockerfile")
        (plan,) = reproducible.plans(parsed)
        rewrite = reproducible.Rewrite(
            "20240101T000000Z", 0, {"0": distro}, {}, {}, releases={"0": release}
        )
        edits, _ = reproducible.manager_edits(parsed, plan, rewrite)
        return dockerfile.apply_edits(text, edits).partition(run)[2]

    flags = f"--mount=type=cache,target={mount} --mount=type=tmpfs,target=/tmp"
    assert dropped in cleanup(f"FROM {distro}\nRUN {run}\n")
    backslash = cleanup(f"FROM {distro}\nRUN --network=default \\\n  {flags} {run}\n")
    assert dropped not in backslash
    backtick = cleanup(f"# escape=`\nFROM {distro}\nRUN --network=default `\n  {flags} {run}\n")
    assert backtick == backslash.replace("\\", "`")


@pytest.mark.parametrize(
    ("release", "mount", "expected"),
    [
        # A Fedora 41+ stage (dnf is dnf5, caching in /var/cache/libdnf5) under dnf 4's cache
        # mount, which Dockerfiles keep across releases: seqsense/tmpfsroot-fedora's
        # updater.Dockerfile, `FROM fedora:${FEDORA_MAJOR}` and
        # `RUN --mount=type=cache,target=/var/cache/dnf dnf install -y ...`. dnf5's cache stays.
        ("42", "/var/cache/dnf", f"dnf clean all && rm -rf {DNF5}"),
        ("42", "/var/cache/libdnf5", f"rm -rf {DNF5}"),
        # dnf 4 does not cache in dnf5's folder.
        ("40", "/var/cache/libdnf5", f"dnf clean all && rm -rf {DNF4}"),
        ("40", "/var/cache/dnf", f"rm -rf {DNF4}"),
    ],
)
def test_a_cache_mount_keeps_out_only_the_cache_of_the_stage_s_dnf(
    release: str, mount: str, expected: str
) -> None:
    text = f"FROM fedora:{release}\nRUN --mount=type=cache,target={mount} dnf install -y curl\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    (plan,) = reproducible.plans(parsed)
    rewrite = reproducible.Rewrite(
        "20240101T000000Z", 0, {"0": "fedora"}, {}, {}, releases={"0": release}
    )
    edits, _ = reproducible.manager_edits(parsed, plan, rewrite)
    rewritten = dockerfile.apply_edits(text, edits)
    assert rewritten == text.replace("curl\n", f"curl \\\n    && {expected}\n")
    assert shell_syntax.run_errors(rewritten.partition("\n")[2]) == []


@pytest.mark.parametrize(
    ("run", "appended"),
    [
        ("dnf5 install -y curl && rm -rf /var/cache/dnf", f"dnf5 clean all && rm -rf {DNF5}"),
        ("dnf install -y curl && rm -rf /var/cache/libdnf5", f"dnf clean all && rm -rf {DNF4}"),
        ("dnf5 install -y curl && rm -rf /var/cache/libdnf5/*", f"rm -rf {DNF5}"),
        ("dnf install -y curl && rm -rf /var/cache/dnf/*", f"rm -rf {DNF4}"),
    ],
)
def test_an_rm_of_the_other_dnf_s_cache_leaves_the_cache(run: str, appended: str) -> None:
    assert rpm.cleanup_for(run, dnf5=rpm.DNF5) == appended


@pytest.mark.parametrize(
    ("distro", "run", "noted"),
    [
        # Exec-form RUNs as real Dockerfiles write them (node images' final stages; an etcd
        # tools image found by exact-string search, its repository not named by the index).
        ("alpine", '["apk", "add", "bash"]', "apk"),
        ("alpine", '["apk", "add", "--no-cache", "tini"]', None),
        ("fedora", '["dnf", "install", "-y", "curl"]', "dnf"),
    ],
)
def test_an_exec_form_run_that_leaves_a_cache_is_named(
    distro: str, run: str, noted: str | None
) -> None:
    # Exec form runs no shell, so no cleanup can be joined on: the user is told, as for apt.
    text = f"FROM {distro}\nRUN {run}\n"
    parsed = dockerfile.parse(text, "Dockerfile")
    (plan,) = reproducible.plans(parsed)
    rewrite = reproducible.Rewrite("20240101T000000Z", 0, {"0": distro}, {}, {}, releases={})
    edits, notes = reproducible.manager_edits(parsed, plan, rewrite)
    assert dockerfile.apply_edits(text, edits) == text
    expected = (
        []
        if noted is None
        else [
            f"RUN at line 2 is in exec form: {noted}'s caches and logs stay in the image and"
            " differ between builds; write it in shell form to have them removed"
        ]
    )
    assert notes == expected


@pytest.mark.parametrize(
    ("distro", "flag", "run"),
    [
        # A zig build image found by exact-string search (its repository not named by the
        # index): `RUN --mount="type=cache,target=/etc/apk/cache" \` then `apk add --repository=
        # .../edge/testing zig`.
        (
            "alpine",
            '--mount="type=cache,target=/etc/apk/cache"',
            "apk add --repository=https://dl-cdn.alpinelinux.org/alpine/edge/testing zig",
        ),
        ("alpine", '--mount=type=cache,target="/var/cache/apk"', "apk add curl"),
        ("fedora", "--mount=type=cache,target='/var/cache/dnf'", "dnf install -y curl"),
        ("debian", '--mount="type=cache,dst=/var/cache/apt"', "apt-get install -y curl"),
    ],
)
def test_a_quoted_mount_flag_is_read_as_buildkit_reads_it(distro: str, flag: str, run: str) -> None:
    # BuildKit drops the quotes of a RUN flag, as a shell would (extractBuilderFlags): the
    # quoted mount is the same cache mount as the bare one.
    def rewritten(text: str) -> str:
        parsed = dockerfile.parse(text, "Dockerfile")
        (plan,) = reproducible.plans(parsed)
        rewrite = reproducible.Rewrite(
            "20240101T000000Z", 0, {"0": distro}, {}, {}, releases={"0": "40"}
        )
        edits, _ = reproducible.stage_edits(parsed, plan, rewrite)
        return dockerfile.apply_edits(text, edits).partition(run)[2]

    bare = flag.replace('"', "").replace("'", "")
    assert rewritten(f"FROM {distro}\nRUN {flag} \\\n    {run}\n") == rewritten(
        f"FROM {distro}\nRUN {bare} \\\n    {run}\n"
    )
