# provenance: moby/buildkit Dockerfile (stages chosen by $TARGETOS, --platform=$BUILDPLATFORM)
ARG ALPINE_VERSION=3.22
ARG GO_VERSION=1.24
ARG XX_VERSION=1.6.1
ARG BUILDKIT_DEBUG
FROM --platform=$BUILDPLATFORM tonistiigi/xx:${XX_VERSION} AS xx
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine${ALPINE_VERSION} AS golatest
FROM golatest AS buildkit-base
COPY --from=xx / /
ARG TARGETPLATFORM
RUN xx-go --wrap && go build -o /usr/bin/buildkitd ./cmd/buildkitd
FROM scratch AS binaries-linux
COPY --link --from=buildkit-base /usr/bin/buildkitd /
FROM scratch AS binaries-windows
COPY --link --from=buildkit-base /usr/bin/buildkitd /buildkitd.exe
FROM binaries-$TARGETOS AS binaries
FROM alpine:${ALPINE_VERSION} AS buildkit-linux
RUN apk add --no-cache fuse3 git openssh pigz xz iptables ip6tables
COPY --link --from=binaries / /usr/bin/
FROM buildkit-linux AS buildkit-linux-debug
FROM buildkit-$TARGETOS${BUILDKIT_DEBUG:+-debug} AS buildkit
ENTRYPOINT ["buildkitd"]
