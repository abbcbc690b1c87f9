# Builds the manager: a static binary on an empty base with a CA bundle, running as the non-root user 65532, the
# same image `make image` builds without a container engine (hack/image). Builds with its defaults:
#   docker build -t <registry>/vpsieinc/cluster-api-provider-vpsie:<tag> .
# Not buildable where this project is developed (no Docker engine there); `make image` is what the tests run.
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS builder
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.1.0-dev
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags "-s -w -X github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie.Version=${VERSION}" \
    -o /manager .

FROM scratch
WORKDIR /
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /manager /manager
USER 65532:65532
LABEL org.opencontainers.image.title=cluster-api-provider-vpsie \
      org.opencontainers.image.source=https://github.com/vpsieinc/cluster-api-provider-vpsie \
      org.opencontainers.image.licenses=Apache-2.0
ENTRYPOINT ["/manager"]
