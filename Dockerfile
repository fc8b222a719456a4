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

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/voiceagent /voiceagent
ENV APP_ENV=production \
    DATA_DIR=/data \
    PORT=8080
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/voiceagent"]
CMD ["serve"]
