# The bot image: installs the package, then migrates and runs (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY scheduler ./scheduler
RUN pip install --no-cache-dir .

COPY alembic.ini ./
COPY alembic ./alembic
COPY lessons ./lessons

RUN useradd --system --uid 10001 bot && mkdir -p -m 700 /app/data && chown bot /app/data
USER bot

CMD ["sh", "-c", "python -m bot migrate && exec python -m bot run"]
