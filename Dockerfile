# syntax=docker/dockerfile:1
# Multi-stage build: static cc-tsa binary in a minimal, non-root runtime image.
#   docker build --build-arg BUILD_FLOOR=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ) -t cc-tsa .
#   docker run --rm -p 8318:8318 cc-tsa dev --listen 0.0.0.0:8318 --dir /tmp/cc-tsa-dev
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
# BUILD_FLOOR (RFC 3339 UTC, e.g. the commit time: `make build` uses it) is
# linked in as the production build-time floor; .git is not in the context.
ARG BUILD_FLOOR=
RUN cd cmd && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.linkedBuildTime=${BUILD_FLOOR}" -o /out/cc-tsa ./cc-tsa

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cc-tsa /usr/local/bin/cc-tsa
USER nonroot:nonroot
EXPOSE 8318
ENTRYPOINT ["/usr/local/bin/cc-tsa"]
CMD ["dev", "--listen", "0.0.0.0:8318", "--dir", "/tmp/cc-tsa-dev"]
