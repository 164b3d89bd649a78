# provenance: discourse/discourse_docker image/base/Dockerfile at e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd (stages FROM the builder run ADDed scripts that `apt -y install` with its lists; tmpfs mounts over apt's folders; comments inside the continued package list)
ARG DEBIAN_RELEASE=bookworm
FROM debian:${DEBIAN_RELEASE}-slim AS builder
RUN apt update && \
DEBIAN_FRONTEND=noninteractive apt-get -y install wget \
    autoconf build-essential \
    git \
    cmake

FROM builder AS vips-builder
ADD install-vips /tmp/install-vips
RUN /tmp/install-vips

FROM debian:${DEBIAN_RELEASE}-slim
COPY --from=vips-builder /usr/lib/libvips.so.42 /usr/lib/
RUN --mount=type=tmpfs,target=/var/log \
  --mount=type=tmpfs,target=/var/cache/apt \
  --mount=type=tmpfs,target=/var/lib/apt \
    echo "debconf debconf/frontend select Teletype" | debconf-set-selections; \
    apt-get -y update && DEBIAN_FRONTEND=noninteractive apt-get -y install \
# discourse runtime requirements
  gnupg sudo curl \
# nginx runtime dependencies
    libpcre3 zlib1g && \
    install -d /usr/share/postgresql-common/pgdg
