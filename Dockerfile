# syntax=docker/dockerfile:1
# Build a static binary, then run it as a non-root user on a distroless
# base. The root filesystem can be read-only: the only writable path is the
# /data volume (SQLite file) — or use DATABASE_URL for PostgreSQL.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/voiceagent ./cmd/voiceagent
# distroless has no shell to mkdir/chown at run time: make /data here, owned
# by nonroot (65532), so a fresh named volume mounted there starts writable.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0750 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/voiceagent /voiceagent
COPY --from=build --chown=65532:65532 /out/data /data
ENV APP_ENV=production \
    DATA_DIR=/data \
    PORT=8080
VOLUME ["/data"]
EXPOSE 8080
# nonroot by number, so Kubernetes runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["/voiceagent"]
CMD ["serve"]
