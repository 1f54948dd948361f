# churnctl serve in a container: the HTTP prediction service over an artifacts directory mounted at
# /artifacts. Build: docker build -t churnctl .   Run: see "Docker" in README.md.

# Wheels of churnctl and everything its serve extra needs, built apart so that the final image
# carries no compiler, no pip cache and no source tree.
FROM python:3.11-slim AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY churnctl ./churnctl
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[serve]'

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHURNCTL_ARTIFACTS=/artifacts
# A fixed, unprivileged account; the artifacts volume must be readable by it (and writable, for
# --log-predictions).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/churnctl churnctl \
    && mkdir /artifacts && chown churnctl:churnctl /artifacts
COPY --from=wheels /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-index --find-links=/tmp/wheels 'churnctl[serve]' && rm -rf /tmp/wheels
USER churnctl
WORKDIR /home/churnctl
VOLUME ["/artifacts"]
EXPOSE 8000
# The slim image has no curl: Python asks /health, which answers 200 only once a model is loaded.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
# Extra arguments go after the image name: docker run ... churnctl --workers 2 --log-predictions
ENTRYPOINT ["churnctl", "serve", "--host", "0.0.0.0", "--port", "8000"]
