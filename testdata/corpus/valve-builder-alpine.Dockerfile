# provenance: opsnow-tools/valve-builder Dockerfile at d2f951534a3dd87e934223767690c88fd127ec65 (global --no-cache before the verb, a cleanup already there)
FROM alpine:latest
RUN apk --no-cache update && \
    apk --no-cache add git zip curl wget bash openssl ca-certificates && \
    rm -rf /var/cache/apk/*
WORKDIR /root
