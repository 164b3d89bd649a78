# Minimal from a public GitHub Dockerfile on quay.io/fedora/fedora-minimal:43 (one microdnf install of many words over continuation lines, cleanup already there), and a dnf RUN with options before the verb added beside it
FROM quay.io/fedora/fedora-minimal:43

RUN microdnf install -y --nodocs \
      curl \
      git \
      gh \
      jq \
      zip \
      unzip \
      tar \
      diffutils \
      patch \
      which \
      file \
      procps-ng \
      vim-common \
      python3 \
      python3-numpy \
    && microdnf clean all

RUN dnf --setopt=install_weak_deps=False -y install 'pkgconfig(zlib)' gcc-toolset-13 @development-tools; echo done
