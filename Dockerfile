# runner serve in a container: one asyncio process serving calls, stateless, behind any load balancer.
#   docker build -t runner .
#   docker run -p 8000:8000 -e OPENAI_API_KEY runner            # the example project (agents.yaml)
#   docker run -p 8000:8000 -e OPENAI_API_KEY -v "$PWD/my-project:/project" runner agents.yaml
# Settings: the agents file's `server:` section, environment variables, flags (see the README's Deploy section).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY runner ./runner
RUN pip install -c requirements.lock '.[serve]' && rm -rf /src

# The project folder belongs to the user the server runs as: its state_dir (sessions, databases) is inside it.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin runner && mkdir /project && chown runner:runner /project
WORKDIR /project
COPY --chown=runner:runner agents.yaml ./
COPY --chown=runner:runner tools ./tools
USER runner

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# SIGTERM drains: /readyz turns 503, new calls are refused, calls in flight finish (up to --drain-timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["runner", "serve"]
CMD ["agents.yaml", "--host", "0.0.0.0", "--port", "8000"]
