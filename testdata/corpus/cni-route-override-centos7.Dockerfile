# Minimal from redhat-nfvpe/cni-route-override's Dockerfile (a search excerpt): the list in an ENV of the older form, installed and checked with rpm -V
FROM centos:centos7 as build

ENV INSTALL_PKGS "git golang"
RUN yum install -y $INSTALL_PKGS && \
    rpm -V $INSTALL_PKGS && \
    cd /usr/src/cni-route-override && \
    ./build_linux.sh
