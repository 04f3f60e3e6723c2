# mathnas-bench in a container: pinned dependencies (requirements.lock), non-root user, data as a volume.
#   docker build -t mathnas-bench .
#   docker run --rm -v /path/to/nb201:/data:ro -v "$PWD/results:/results" mathnas-bench \
#       run /app/harness/suites/bench.toml --out /results/bench
FROM python:3.11-slim

# torch==2.13.0+cpu (pinned in requirements.lock) is published on PyTorch's CPU wheel index.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MATHNAS_BENCH_DATA=/data \
    MATHNAS_BENCH_CACHE=/results/cache

RUN useradd --create-home --uid 10001 bench
WORKDIR /app

COPY requirements.lock ./
RUN pip install --extra-index-url "$TORCH_INDEX_URL" -r requirements.lock

COPY pyproject.toml README.md ./
COPY harness ./harness
COPY spaces ./spaces
COPY mathnas ./mathnas
COPY baselines ./baselines
COPY solvers ./solvers
COPY devices ./devices
COPY reports ./reports
COPY benchmarks ./benchmarks
RUN pip install --no-deps . && mkdir -p /results && chown bench /results

USER bench
VOLUME ["/data", "/results"]
ENTRYPOINT ["mathnas-bench"]
CMD ["--help"]
