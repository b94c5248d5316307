# syntax=docker/dockerfile:1
# Multi-stage build: static cc-tsa binary in a minimal, non-root runtime image.
#   docker build -t cc-tsa .
#   docker run --rm -p 8318:8318 cc-tsa dev --listen 0.0.0.0:8318 --dir /tmp/cc-tsa-dev
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
RUN cd cmd && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/cc-tsa ./cc-tsa

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cc-tsa /usr/local/bin/cc-tsa
USER nonroot:nonroot
EXPOSE 8318
ENTRYPOINT ["/usr/local/bin/cc-tsa"]
CMD ["dev", "--listen", "0.0.0.0:8318", "--dir", "/tmp/cc-tsa-dev"]
