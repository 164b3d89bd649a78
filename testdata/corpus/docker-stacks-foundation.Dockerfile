# provenance: jupyter/docker-stacks images/docker-stacks-foundation/Dockerfile (Ubuntu, SHELL bash)
ARG ROOT_IMAGE=ubuntu:24.04
FROM $ROOT_IMAGE
ARG NB_USER="jovyan"
USER root
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update --yes && \
    apt-get upgrade --yes && \
    apt-get install --yes --no-install-recommends \
    bzip2 \
    ca-certificates \
    locales \
    sudo \
    tini \
    wget && \
    apt-get clean && rm -rf /var/lib/apt/lists/* && \
    echo "en_US.UTF-8 UTF-8" > /etc/locale.gen && \
    locale-gen
ENV LC_ALL=en_US.UTF-8
