# provenance: sounddrill31/crave-binary-obs Dockerfile (zypper refresh, update, then install on Tumbleweed)
FROM opensuse/tumbleweed:latest

# Install dependencies and setup environment
RUN zypper refresh && zypper update -y
RUN zypper install -y git osc
