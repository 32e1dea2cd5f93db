# entra-mock container image. Build: docker build -t entra-mock .
# The build step is the same command CI runs (.ci/run), so this file cannot silently rot.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin entra \
    && mkdir -p /data && chown entra /data
COPY --from=build /src/target/release/entra-mock /usr/local/bin/entra-mock
USER entra
VOLUME ["/data"]
ENV ENTRA_MOCK_HTTP_ADDR=0.0.0.0:8080 \
    ENTRA_MOCK_HTTPS_ADDR=0.0.0.0:8443 \
    ENTRA_MOCK_DATA_DIR=/data \
    ENTRA_MOCK_TLS_SAN=entra-mock \
    ENTRA_MOCK_HEALTH_URL=http://127.0.0.1:8080/healthz
EXPOSE 8080 8443
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["entra-mock", "healthcheck"]
ENTRYPOINT ["entra-mock"]
CMD ["serve"]
