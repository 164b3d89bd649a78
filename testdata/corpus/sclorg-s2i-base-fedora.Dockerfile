# provenance: sclorg/s2i-base-container base/Dockerfile.fedora (the package list shortened; a list in a variable, checked with rpm -V)
FROM quay.io/fedora/s2i-core:37

RUN INSTALL_PKGS="autoconf \
  automake \
  bzip2 \
  gcc-c++ \
  zlib-devel" && \
  dnf install -y --setopt=tsflags=nodocs $INSTALL_PKGS && \
  rpm -V $INSTALL_PKGS && \
  dnf clean all -y
