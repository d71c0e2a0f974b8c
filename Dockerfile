FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY workers ./workers
RUN pip install --no-cache-dir '.[postgres]' && useradd --create-home newsalert
COPY config ./config
USER newsalert
ENV NEWSALERT_CONFIG=/app/config/newsalert.yaml NEWSALERT_DATA_DIR=/data
VOLUME ["/data"]
CMD ["newsalert", "run"]
