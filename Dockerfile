# Production image: the app, its web server (granian), Celery worker and beat all run from it
# (docker-compose.yml picks the command).

FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/vendor_assets.py scripts/
RUN apt-get update && apt-get install -y --no-install-recommends python3 \
    && python3 scripts/vendor_assets.py

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 1000 stagecraft
COPY pyproject.toml README.md ./
COPY config config
COPY workspaces workspaces
COPY contacts contacts
COPY lifecycle lifecycle
COPY campaigns campaigns
COPY analytics analytics
RUN pip install .
COPY . .
COPY --from=assets /app/static/vendor static/vendor
RUN DEBUG=0 SECRET_KEY=collectstatic-only DATABASE_URL=postgres://x@localhost/x \
    python manage.py collectstatic --noinput
USER stagecraft
EXPOSE 8000
CMD ["python", "-m", "config.server"]
