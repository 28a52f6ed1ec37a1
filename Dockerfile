# CPU image of the service with the bundled embedding model. Every step is a Makefile target that
# CI also runs; the install is `make install`, as on a developer machine.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY recommender ./recommender
COPY models ./models
COPY scripts ./scripts

# the CPU build of torch; pass TORCH_SPEC to point pip at another CPU wheel if needed
ARG TORCH_SPEC=torch==2.13.0
RUN make install TORCH_SPEC="$TORCH_SPEC"

RUN useradd --create-home --uid 10001 app && mkdir -p /app/var && chown -R app /app/var /app/models
USER app

ENV RECOMMENDER_DATA_DIR=/app/var \
    RECOMMENDER_MODELS_DIR=/app/models \
    HF_HUB_OFFLINE=1

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready').status != 200)"

CMD [".venv/bin/recommender", "serve", "--host", "0.0.0.0", "--port", "8000"]
