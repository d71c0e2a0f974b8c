FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY workers ./workers
RUN pip install --no-cache-dir '.[postgres]' && useradd --create-home newsalert \
    && mkdir -p /data && chown newsalert:newsalert /data
COPY config ./config
USER newsalert
ENV NEWSALERT_CONFIG=/app/config/newsalert.yaml NEWSALERT_DATA_DIR=/data XDG_CACHE_HOME=/data/cache
# a named volume mounted here starts with this ownership (else root: the worker could not write)
VOLUME ["/data"]
CMD ["newsalert", "run"]
