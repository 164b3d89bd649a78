# provenance: prometheus/prometheus Dockerfile (an image chosen by ARGs with defaults)
ARG ARCH="amd64"
ARG OS="linux"
FROM quay.io/prometheus/busybox-${OS}-${ARCH}:latest
COPY .build/${OS}-${ARCH}/prometheus /bin/prometheus
USER nobody
ENTRYPOINT [ "/bin/prometheus" ]
