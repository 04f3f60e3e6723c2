# mathnas-bench in a container, built without network: every Python package comes from a wheelhouse in the
# build context (exactly the versions of requirements.lock, plus the project's own wheel); pip never
# contacts an index. harness/image.py (build_image, `python -m harness.image`) builds this very file with
# the Docker SDK; by hand, from the repository root:
#   pip wheel -r requirements.lock -w build/wheelhouse && pip wheel --no-deps . -w build/project
#   docker build --network none --build-arg BASE=python:3.11-slim -t mathnas-bench .
# BASE: any Debian-like image with Python 3.11 and its venv module (the wheelhouse is cp311):
# python:3.11-slim where a registry is reachable, else the debootstrap base build_image makes
# (mathnas-bench-base:bookworm). Non-root user, entry point `mathnas-bench`; data is mounted at /data at
# run time, never baked in:
#   docker run --rm --network none -v /path/to/nb201:/data:ro -v "$PWD/results:/results" mathnas-bench \
#       run /app/harness/suites/bench.toml --out /results/bench
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG WHEELS=build/wheelhouse
COPY ${WHEELS}/ /wheels/
WORKDIR /build
COPY requirements.lock ./
RUN python3 -c 'import sys; v = sys.version_info; sys.exit(0 if v[:2] == (3, 11) else "BASE has Python %d.%d; the wheelhouse needs 3.11" % v[:2])' \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir --disable-pip-version-check \
        -r requirements.lock

# The dependencies above change only with requirements.lock; the project's own wheel (PROJECT) is
# installed last, so a change of the sources rebuilds only the small layers below.
FROM ${BASE}
ARG PROJECT=build/project
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    MATHNAS_BENCH_DATA=/data \
    MATHNAS_BENCH_CACHE=/results/cache
COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 bench \
 && mkdir -p /app /data /results && chown bench /results
COPY benchmarks /app/benchmarks
COPY ${PROJECT}/ /tmp/project/
# /app/harness: the installed package, so the suites keep their documented path /app/harness/suites/*.toml
RUN pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check /tmp/project/*.whl \
 && rm -rf /tmp/project \
 && ln -s "$(python -c 'import harness, os; print(os.path.dirname(harness.__file__))')" /app/harness

# no VOLUME: mount /data (read-only) and /results at run time; anonymous volumes would be writable even in
# a read-only worker container and outlive it
USER bench
WORKDIR /app
ENTRYPOINT ["mathnas-bench"]
CMD ["--help"]
