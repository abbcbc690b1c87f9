# Builds the manager: a static binary on a distroless "static:nonroot" base.
# Not buildable where this project is developed (no Docker engine there).
# BASE_IMAGE names the distroless static nonroot image from the registry or
# mirror you use, e.g. --build-arg BASE_IMAGE=<registry>/distroless/static:nonroot
ARG GO_VERSION=1.26
ARG BASE_IMAGE
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

FROM ${BASE_IMAGE}
WORKDIR /
COPY --from=builder /manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
