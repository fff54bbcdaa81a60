FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . && (cd iiif && npm ci --no-audit --no-fund)
EXPOSE 5000
ENV KHO_HOST=0.0.0.0
# Production WSGI server with timeouts (repository/web/gunicorn_conf.py); `kho serve` is for development.
CMD ["gunicorn", "--config", "python:repository.web.gunicorn_conf", "repository.web:create_app()"]
