# Minimal from mangadex-pub's keycloak image Dockerfile on GitHub (microdnf update and install with a cleanup in one stage; an install without one in another)
FROM registry.access.redhat.com/ubi8-minimal as keycloak-jdk

ENV LANG en_US.UTF-8

RUN microdnf update -y && \
    microdnf install -y --nodocs java-11-openjdk-headless glibc-langpack-en && \
    microdnf clean all && \
    rm -rf /var/cache/yum/*

FROM registry.access.redhat.com/ubi8-minimal AS keycloak-dist

RUN microdnf install -y tar gzip

FROM keycloak-jdk

RUN echo "keycloak:x:0:root" >> /etc/group && echo "keycloak:x:1000:0:keycloak user:/opt/keycloak:/sbin/nologin" >> /etc/passwd
USER 1000

COPY --from=keycloak-dist --chown=1000:0 /opt/keycloak /opt/keycloak

ENTRYPOINT [ "/opt/keycloak/bin/kc.sh" ]
