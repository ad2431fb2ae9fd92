# tickerd container image: a static binary on scratch, running as a non-root
# user, with the simulated-exchange config as its default.
#
#   docker build -t tickerd:latest .
#   docker build --build-arg VERSION=$(git describe --tags --always) -t tickerd:latest .
#   docker run --rm -p 8080:8080 tickerd:latest
#
# GO_IMAGE is the build stage's base: the official image of the Go release in
# go.mod. .ci/container-test passes a local image made from the machine's Go
# toolchain instead (no registry is reachable there); the build stage may only
# need `go` and a POSIX sh from it.
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
ARG VERSION=dev
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
# Modules in their own layer: rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/usr/local/bin/tickerd ./cmd/tickerd
# The final stage has no shell: its user and group files are written here.
RUN printf 'root:x:0:0:root:/root:/sbin/nologin\ntickerd:x:65532:65532:tickerd:/nonexistent:/sbin/nologin\n' >/out/passwd && \
    printf 'root:x:0:\ntickerd:x:65532:\n' >/out/group

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /out/group /etc/
COPY --from=build /out/usr/local/bin/tickerd /usr/local/bin/tickerd
COPY deploy/config.yaml /etc/tickerd/config.yaml
ENV TICKERD_CONFIG=/etc/tickerd/config.yaml
USER 65532:65532
EXPOSE 8080
# Exec form: the image has no shell. `tickerd healthcheck` GETs
# http://127.0.0.1:<port>/healthz, the port of the admin listener when there
# is one (TICKERD_ADMIN_LISTEN, admin_listen), else of TICKERD_LISTEN, else
# of the config's listen.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/tickerd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tickerd"]
