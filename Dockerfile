# Gateway Zero: one static-ish binary on Debian slim. Built by compose.yaml, or:
#   docker build -t gateway-zero .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin gateway-zero

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app gateway \
    && mkdir -p /app/data && chown gateway /app/data
COPY --from=build /src/target/release/gateway-zero /usr/local/bin/gateway-zero
WORKDIR /app
USER gateway
# Listen on every interface inside the container (the default is loopback).
ENV GATEWAY__SERVER__HOST=0.0.0.0
EXPOSE 8080
ENTRYPOINT ["gateway-zero"]
