FROM ubuntu:24.04 AS tools
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates

FROM tools AS fetch
RUN apt-get install -y --no-install-recommends jq

FROM ubuntu:22.04 AS legacy
RUN apt-get update && apt-get install -y --no-install-recommends make

FROM debian:bullseye-slim
COPY --from=fetch /usr/bin/jq /usr/bin/jq
RUN apt-get update \
    && apt-get install -y --no-install-recommends netbase \
    && apt-get clean
