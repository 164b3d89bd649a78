# Minimal from a Red Hat UBI 10 python-312-minimal MCP server image on GitHub (install with --setopt=install_weak_deps=0 in one stage; an update only, then clean all, in the next)
FROM registry.redhat.io/ubi10/python-312-minimal:10.2-1788165617 AS builder
USER 0
RUN microdnf install -y --nodocs --setopt=install_weak_deps=0 git-core && \
    microdnf clean all
FROM registry.redhat.io/ubi10/python-312-minimal:10.2-1788165617
USER 0
RUN microdnf update -y --nodocs --setopt=install_weak_deps=0 && \
    microdnf clean all
