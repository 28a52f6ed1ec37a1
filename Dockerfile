# syntax=docker/dockerfile:1
# CPU image of the service with the bundled embedding model, in two stages: the builder installs
# the locked dependencies and then the package (not editable) into /opt/venv; the final stage
# copies that venv and the learned ranker, nothing else (no compiler, pip cache, sources, tests).
#   docker build -t recommender .
#   docker run -p 8000:8000 -v recommender-data:/data -v recommender-models:/models \
#     -e RECOMMENDER_API_TOKEN=... recommender
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch from its CPU wheel index, explicitly: on Linux the default index's torch==2.13.0 is the
# CUDA build, which pulls gigabytes of nvidia-* packages this CPU service never uses. A mirror of
# the CPU wheels can be passed with --build-arg TORCH_INDEX_URL=...
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" "torch==${TORCH_VERSION}"

# the dependencies before the source, so a code change reuses this layer; the lock pins every
# runtime package (`make lock`); its torch==2.13.0 is already met by the CPU build above
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY pyproject.toml README.md LICENSE ./
COPY recommender ./recommender
RUN pip install --no-cache-dir --no-deps .

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 app \
    && mkdir -p /data /models /app \
    && chown app:app /data /models
COPY --from=builder /opt/venv /opt/venv
# the learned ranking, outside the models volume so a mounted volume cannot hide it
COPY models/ranker.json /app/ranker.json

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    RECOMMENDER_DATA_DIR=/data \
    RECOMMENDER_MODELS_DIR=/models \
    RECOMMENDER_RANKER_PATH=/app/ranker.json

WORKDIR /app
USER 10001
# the SQLite database (articles, events, embedding cache) and the index folders: both outlive
# the container
VOLUME ["/data", "/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"]

CMD ["recommender", "serve", "--host", "0.0.0.0", "--port", "8000"]
