# Minimal from SUSE/bci-dockerfile-generator's Dockerfile template on GitHub (zypper install, a clean without -a and an rm of the logs chained with `;`)
FROM opensuse/tumbleweed
RUN zypper -n in --no-recommends gcc emacs; zypper -n clean; rm -rf /var/log/*
COPY test.el .
RUN emacs -Q --batch test.el
