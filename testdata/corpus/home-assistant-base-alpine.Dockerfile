# provenance: home-assistant/docker-base alpine/Dockerfile at c8de5ab6449d496036adaa23c6f64354fdaea1d2 (FROM an ARG built of ARGs, SHELL ash -o pipefail -x, RUN flags on their own line, a virtual group deleted in the same RUN)
ARG BASE_IMAGE=alpine
ARG ALPINE_VERSION=3.22
ARG BUILD_FROM=${BASE_IMAGE}:${ALPINE_VERSION}

FROM ${BUILD_FROM} AS jemalloc-build
SHELL ["/bin/ash", "-o", "pipefail", "-x", "-c"]
WORKDIR /usr/src/jemalloc
RUN \
    --mount=type=cache,target=/var/cache/apk,sharing=locked \
    apk add --update-cache --virtual .build-deps \
        build-base \
        autoconf \
        git \
    && ./autogen.sh \
        --with-lg-page=16 \
    && make -j "$(nproc)" \
    && apk del .build-deps \
    && rm -rf /usr/src/*

FROM ${BUILD_FROM}
SHELL ["/bin/ash", "-o", "pipefail", "-c"]
RUN \
    apk add --no-cache \
        bash \
        ca-certificates \
        curl \
        tzdata \
        xz
COPY --from=jemalloc-build /usr/local/lib/libjemalloc.so.2 /usr/local/lib/
