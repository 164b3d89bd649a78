# Minimal from grafana/grafana Dockerfile (commit 0014fb6): `apt-get update` in a RUN of its own, then one `apt-get install` RUN per package reading its lists.
FROM debian:stretch-slim
RUN apt-get update && apt-get upgrade -y && \
    apt-get install -qq -y libfontconfig1 ca-certificates && \
    apt-get autoremove -y && \
    rm -rf /var/lib/apt/lists/*
RUN apt-get update -y
RUN apt-get install python-pip -y
RUN apt-get install vim -y
