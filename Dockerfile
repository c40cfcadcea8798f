# pyfiledrop in a container: the server as an unprivileged user, everything it keeps in /data.
#   docker build -t pyfiledrop .
#   docker run -d --name pyfiledrop -p 16273:16273 -v pyfiledrop-data:/data --stop-timeout 35 pyfiledrop
# Settings are PYFILEDROP_* variables (`docker run --rm pyfiledrop serve -h` lists them):
# -e PYFILEDROP_ALLOW_DOWNLOADS=1, -e PYFILEDROP_DATABASE=postgresql://..., and so on.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every dependency has a wheel for linux/amd64 and linux/arm64: no compiler needed.
COPY pyproject.toml constraints.txt README.md /tmp/pyfiledrop/
COPY src /tmp/pyfiledrop/src
RUN pip install -c /tmp/pyfiledrop/constraints.txt /tmp/pyfiledrop && rm -rf /tmp/pyfiledrop

# /data belongs to the server's user, so a named volume created from it is writable to the server.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home pyfiledrop \
    && mkdir /data && chown pyfiledrop:pyfiledrop /data
USER pyfiledrop
WORKDIR /data
VOLUME /data

# Flags come from these variables, so `docker run -e` can change any of them (a flag in CMD would
# win over the variable).
ENV PYFILEDROP_HOST=0.0.0.0 \
    PYFILEDROP_PORT=16273 \
    PYFILEDROP_STORAGE=/data/storage \
    PYFILEDROP_CHUNKS=/data/chunks
EXPOSE 16273

# The upload page answers once the server is up (the image has no curl: Python's urllib).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PYFILEDROP_PORT']}/healthz\", timeout=4)"]

# pyfiledrop is PID 1: it gets docker stop's SIGTERM itself (with --workers, it passes it on).
ENTRYPOINT ["pyfiledrop"]
CMD ["serve"]
