# provenance: byrnedo/docker-alpine-curl Dockerfile at 88332cc7f64e1173cc04e7fea487706fe01187c9 (apk add --update with its cache removed by hand)
FROM alpine:3.6
RUN apk add --update curl && \
    rm -rf /var/cache/apk/*
ENTRYPOINT ["/usr/bin/curl"]
