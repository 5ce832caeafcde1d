# Appended by scripts/images.sh to every images/<language>/Dockerfile: what all the
# language images share. The context holds the rce-runner binary and images/preload/ (as
# preload/) next to the Dockerfile.
# The server mounts tmpfs (mode 1777) over /sandbox and /tmp. runc keeps the image
# directory's mode on a tmpfs, so /sandbox must not be a root-owned 0755 directory.
RUN mkdir -m 1777 /sandbox
WORKDIR /sandbox
COPY rce-runner /usr/local/bin/rce-runner
# The preloaded launchers (images/preload/README.md); languages.toml's `preload` names one.
COPY preload/ /opt/rce/preload/
ENTRYPOINT ["/usr/local/bin/rce-runner"]
