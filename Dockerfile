# veil: a static binary in an otherwise empty image. Nothing is pulled from a
# registry, so the image builds offline:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o veil ./cmd/veil
#   docker build -t veil .
#   docker run --rm -p 8080:8080 -p 3478:3478/udp -p 3478:3478/tcp veil
#
# scratch is enough because veil needs nothing else at run time: it makes no
# outbound TLS connections (so no CA certificates; with --acme-domain it
# talks to the CA: mount the host's bundle, see deploy/compose.yaml), resolves
# no user names (so no /etc/passwd), and writes nothing to disk (so no /tmp
# and no volume).
FROM scratch

# The binary is built outside the image (see above); CGO_ENABLED=0 makes it
# static, so it runs without a libc.
COPY veil /veil

# A numeric non-root user: there is no /etc/passwd to resolve a name from, and
# numbers let a runtime's "must run as non-root" check verify it without one.
USER 65532:65532

# 8080/tcp: signaling (WebSocket, /healthz). 3478: the embedded TURN server, UDP
# and TCP. A TURN relay also needs its relay port range published; see README.
EXPOSE 8080/tcp 3478/udp 3478/tcp

ENTRYPOINT ["/veil"]
# Listen on all interfaces inside the container: the published ports decide
# what is reachable from outside.
CMD ["--listen=:8080"]
