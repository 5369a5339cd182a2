# The waxseal image: the release binary and nothing else (no shell, no
# package manager, no libc), run as a non-root user, with /data as the
# volume for the SQLite database and the master key.
#
#   scripts/release linux/amd64          # or linux/arm64: dist/waxseal-linux-ARCH
#   docker build -t waxseal .            # buildah/podman: the same
#   docker run -v waxseal-data:/data -p 8080:8080 \
#     -e WAXSEAL_ISSUER=https://auth.example.com -e WAXSEAL_INSECURE_HTTP=true waxseal
#
# The image copies the binary scripts/release built, so it holds exactly the
# bytes SHA256SUMS lists. Plain HTTP off loopback is refused unless
# WAXSEAL_INSECURE_HTTP=true says TLS ends at a proxy in front; otherwise
# mount a certificate and set WAXSEAL_TLS_CERT and WAXSEAL_TLS_KEY.
FROM scratch
ARG TARGETARCH=amd64
COPY dist/waxseal-linux-${TARGETARCH} /usr/local/bin/waxseal
# /data belongs to the user the server runs as; a new volume mounted there
# takes its owner from the image.
COPY --chown=65532:65532 deploy/container/data/ /data/
USER 65532:65532
WORKDIR /data
VOLUME /data
ENV WAXSEAL_LISTEN=0.0.0.0:8080 \
    WAXSEAL_DATABASE=sqlite:/data/waxseal.db
EXPOSE 8080
# No shell and no curl: the binary asks its own /readyz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/waxseal", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/waxseal"]
CMD ["serve"]
