# Minimal from a public misskey Dockerfile (a search excerpt naming no repository; its node:alpine base written as alpine): the build dependencies in an ENV of the stage the building stage is FROM
FROM alpine:3.20 AS base

ENV NODE_ENV=production

WORKDIR /misskey

ENV BUILD_DEPS autoconf automake file g++ gcc libc-dev libtool make nasm pkgconfig python3 zlib-dev git

FROM base AS builder

RUN apk add --no-cache $BUILD_DEPS && \
    su - mk -c 'yarn install' && \
    rm -rf .git
