"""Short names podman and buildah resolve off docker.io through containers-common's aliases."""

from __future__ import annotations

from pinner.dockerfile import ImageUse

# https://github.com/containers/shortnames/blob/main/shortnames.conf at commit 4a3f8d605eb7
# (2025-08-21), which containers-common installs as
# /etc/containers/registries.conf.d/shortnames.conf: only the aliases that leave docker.io.
# Docker and pinner resolve these names on docker.io; podman and buildah pull the alias. Older
# releases kept `hello-world` and `rockylinux` on docker.io (as the 2021 file in Debian
# bookworm's containers-common 0.50.1 does).
ALIASES = {
    "amazonlinux": "public.ecr.aws/amazonlinux/amazonlinux",
    "centos": "quay.io/centos/centos",
    "skopeo": "quay.io/skopeo/stable",
    "buildah": "quay.io/buildah/stable",
    "podman": "quay.io/podman/stable",
    "hello": "quay.io/podman/hello",
    "hello-world": "quay.io/podman/hello",
    "fedora-bootc": "registry.fedoraproject.org/fedora-bootc",
    "fedora-minimal": "registry.fedoraproject.org/fedora-minimal",
    "fedora": "registry.fedoraproject.org/fedora",
    "opensuse/tumbleweed": "registry.opensuse.org/opensuse/tumbleweed",
    "opensuse/tumbleweed-dnf": "registry.opensuse.org/opensuse/tumbleweed-dnf",
    "opensuse/tumbleweed-microdnf": "registry.opensuse.org/opensuse/tumbleweed-microdnf",
    "opensuse/leap": "registry.opensuse.org/opensuse/leap",
    "opensuse/busybox": "registry.opensuse.org/opensuse/busybox",
    "tumbleweed": "registry.opensuse.org/opensuse/tumbleweed",
    "tumbleweed-dnf": "registry.opensuse.org/opensuse/tumbleweed-dnf",
    "tumbleweed-microdnf": "registry.opensuse.org/opensuse/tumbleweed-microdnf",
    "leap": "registry.opensuse.org/opensuse/leap",
    "leap-dnf": "registry.opensuse.org/opensuse/leap-dnf",
    "leap-microdnf": "registry.opensuse.org/opensuse/leap-microdnf",
    "tw-busybox": "registry.opensuse.org/opensuse/busybox",
    "suse/sle15": "registry.suse.com/suse/sle15",
    "suse/sles12sp5": "registry.suse.com/suse/sles12sp5",
    "suse/sles12sp4": "registry.suse.com/suse/sles12sp4",
    "suse/sles12sp3": "registry.suse.com/suse/sles12sp3",
    "sle15": "registry.suse.com/suse/sle15",
    "sles12sp5": "registry.suse.com/suse/sles12sp5",
    "sles12sp4": "registry.suse.com/suse/sles12sp4",
    "sles12sp3": "registry.suse.com/suse/sles12sp3",
    "bci-base": "registry.suse.com/bci/bci-base",
    "bci/bci-base": "registry.suse.com/bci/bci-base",
    "bci-micro": "registry.suse.com/bci/bci-micro",
    "bci/bci-micro": "registry.suse.com/bci/bci-micro",
    "bci-minimal": "registry.suse.com/bci/bci-minimal",
    "bci/bci-minimal": "registry.suse.com/bci/bci-minimal",
    "bci-busybox": "registry.suse.com/bci/bci-busybox",
    "bci/bci-busybox": "registry.suse.com/bci/bci-busybox",
    "rhel": "registry.access.redhat.com/rhel",
    "rhel6": "registry.access.redhat.com/rhel6",
    "rhel7": "registry.access.redhat.com/rhel7",
    "rhel7.9": "registry.access.redhat.com/rhel7.9",
    "rhel-atomic": "registry.access.redhat.com/rhel-atomic",
    "rhel9-bootc": "registry.redhat.io/rhel9/rhel-bootc",
    "rhel-minimal": "registry.access.redhat.com/rhel-minimal",
    "rhel-init": "registry.access.redhat.com/rhel-init",
    "rhel7-atomic": "registry.access.redhat.com/rhel7-atomic",
    "rhel7-minimal": "registry.access.redhat.com/rhel7-minimal",
    "rhel7-init": "registry.access.redhat.com/rhel7-init",
    "rhel7/rhel": "registry.access.redhat.com/rhel7/rhel",
    "rhel7/rhel-atomic": "registry.access.redhat.com/rhel7/rhel7/rhel-atomic",
    "ubi7/ubi": "registry.access.redhat.com/ubi7/ubi",
    "ubi7/ubi-minimal": "registry.access.redhat.com/ubi7-minimal",
    "ubi7/ubi-init": "registry.access.redhat.com/ubi7-init",
    "ubi7": "registry.access.redhat.com/ubi7",
    "ubi7-init": "registry.access.redhat.com/ubi7-init",
    "ubi7-minimal": "registry.access.redhat.com/ubi7-minimal",
    "rhel8": "registry.access.redhat.com/ubi8",
    "rhel8-init": "registry.access.redhat.com/ubi8-init",
    "rhel8-minimal": "registry.access.redhat.com/ubi8-minimal",
    "rhel8-micro": "registry.access.redhat.com/ubi8-micro",
    "ubi8": "registry.access.redhat.com/ubi8",
    "ubi8-minimal": "registry.access.redhat.com/ubi8-minimal",
    "ubi8-init": "registry.access.redhat.com/ubi8-init",
    "ubi8-micro": "registry.access.redhat.com/ubi8-micro",
    "ubi8/ubi": "registry.access.redhat.com/ubi8/ubi",
    "ubi8/ubi-minimal": "registry.access.redhat.com/ubi8-minimal",
    "ubi8/ubi-init": "registry.access.redhat.com/ubi8-init",
    "ubi8/ubi-micro": "registry.access.redhat.com/ubi8-micro",
    "ubi8/podman": "registry.access.redhat.com/ubi8/podman",
    "ubi8/buildah": "registry.access.redhat.com/ubi8/buildah",
    "ubi8/skopeo": "registry.access.redhat.com/ubi8/skopeo",
    "rhel9": "registry.access.redhat.com/ubi9",
    "rhel9-init": "registry.access.redhat.com/ubi9-init",
    "rhel9-minimal": "registry.access.redhat.com/ubi9-minimal",
    "rhel9-micro": "registry.access.redhat.com/ubi9-micro",
    "ubi9": "registry.access.redhat.com/ubi9",
    "ubi9-minimal": "registry.access.redhat.com/ubi9-minimal",
    "ubi9-init": "registry.access.redhat.com/ubi9-init",
    "ubi9-micro": "registry.access.redhat.com/ubi9-micro",
    "ubi9/ubi": "registry.access.redhat.com/ubi9/ubi",
    "ubi9/ubi-minimal": "registry.access.redhat.com/ubi9-minimal",
    "ubi9/ubi-init": "registry.access.redhat.com/ubi9-init",
    "ubi9/ubi-micro": "registry.access.redhat.com/ubi9-micro",
    "ubi9/podman": "registry.access.redhat.com/ubi9/podman",
    "ubi9/buildah": "registry.access.redhat.com/ubi9/buildah",
    "ubi9/skopeo": "registry.access.redhat.com/ubi9/skopeo",
    "rockylinux": "quay.io/rockylinux/rockylinux",
    "oraclelinux": "container-registry.oracle.com/os/oraclelinux",
    "curl": "quay.io/curl/curl",
    "qubip/pq-container": "quay.io/qubip/pq-container",
}


def _repository(text: str) -> str:
    """A reference's name as written, without its tag and digest."""
    name = text.partition("@")[0]
    return name[: name.rfind(":")] if name.rfind(":") > name.rfind("/") else name


def alias(text: str) -> str | None:
    """The repository podman and buildah pull for a short name aliased off docker.io, else None."""
    # Looked up by the name as written, as containers/image's pkg/shortnames does: no key names a
    # registry, so a qualified name (docker.io/library/fedora) or library/fedora never matches.
    return ALIASES.get(_repository(text))


def note(path: str, use: ImageUse) -> str:
    """What lock says about a use whose short name podman and buildah pull from elsewhere."""
    qualified = str(use.ref._replace(digest=None))
    return (
        f"{path}:{use.line}: {use.written}: podman and buildah resolve"
        f" `{_repository(use.expanded)}` to {alias(use.expanded)}"
        " (containers-common short-name alias), not docker.io; the digest pinned is docker.io's;"
        f" write {qualified} to pin one image for every builder"
    )
