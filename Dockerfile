FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . && pybabel compile -d repository/web/translations -D messages \
    && (cd iiif && npm ci --omit=dev --no-audit --no-fund)
EXPOSE 5000
CMD ["kho", "serve", "--host", "0.0.0.0"]
