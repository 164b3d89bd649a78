# Minimal from a public unbound image's Dockerfile (a search excerpt naming no repository): build dependencies in a variable of the RUN, installed beside other words and removed with apk del
FROM alpine:3.20

RUN build_deps="curl gcc musl-dev libevent-dev expat-dev make openssl-dev" && \
    apk update && apk add --no-cache $build_deps ca-certificates ldns libevent expat && \
    ./configure --prefix=/opt/unbound && make && make install && \
    apk del $build_deps
