# provenance: netdata/netdata .github/dockerfiles/Dockerfile.clang at 04b1cf54270c4e21c02e322e577e7e96d547c9ee (a copied script fetches the lists, then a RUN installs with them without apt-get update)
FROM debian:12 AS build

# Disable apt/dpkg interactive mode
ENV DEBIAN_FRONTEND=noninteractive

# Install all build dependencies
COPY packaging/installer/install-required-packages.sh /tmp/install-required-packages.sh
RUN /tmp/install-required-packages.sh --dont-wait --non-interactive netdata-all

# Install Clang and set as default CC
RUN apt-get install -y clang && \
    update-alternatives --install /usr/bin/cc cc /usr/bin/clang 100 && \
    update-alternatives --install /usr/bin/c++ c++ /usr/bin/clang++ 100

WORKDIR /netdata
COPY . .

# Build Netdata
RUN ./netdata-installer.sh --dont-wait --dont-start-it --disable-go
