# provenance: barankaraaslan/CV Dockerfile (two pacman -Syu RUNs, no cleanup; written here without a final newline)
FROM archlinux

RUN pacman -Syu --noconfirm
RUN pacman -Syu --noconfirm base-devel git

COPY install.sh .
RUN bash install.sh