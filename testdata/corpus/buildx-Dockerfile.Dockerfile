# provenance: docker/buildx Dockerfile (platform ARGs in FROM and in RUN --mount, ${VAR%%.*})
ARG GO_VERSION=1.24
ARG ALPINE_VERSION=3.22
ARG XX_VERSION=1.6.1
ARG DOCKER_VERSION=28.3.0
ARG DOCKER_CLI_VERSION=${DOCKER_VERSION}
FROM --platform=$BUILDPLATFORM tonistiigi/xx:${XX_VERSION} AS xx
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine${ALPINE_VERSION} AS golatest
FROM dockereng/cli-bin:${DOCKER_CLI_VERSION%%-*} AS docker-cli
FROM golatest AS buildx-build
COPY --from=xx / /
ARG TARGETPLATFORM
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/root/.cache \
    xx-go --wrap && go build -o /usr/bin/docker-buildx ./cmd/buildx
FROM scratch AS binaries-unix
COPY --link --from=buildx-build /usr/bin/docker-buildx /buildx
FROM binaries-unix AS binaries-linux
FROM binaries-unix AS binaries-darwin
FROM binaries-$TARGETOS AS binaries
ARG BUILDKIT_SBOM_SCAN_STAGE=true
FROM alpine:${ALPINE_VERSION} AS buildx-integration
RUN apk add --no-cache bash ca-certificates docker-cli-compose git
COPY --link --from=docker-cli /usr/local/bin/docker /usr/bin/
