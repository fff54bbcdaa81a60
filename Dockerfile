FROM python:3.11-slim
# Tesseract with Vietnamese and French data: OCR of printed pages (docs/text.md); DejaVu for
# Vietnamese on PDF title pages.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm fonts-dejavu-core \
      tesseract-ocr tesseract-ocr-vie tesseract-ocr-fra && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . && pybabel compile -d repository/web/translations -D messages \
    && python -m compileall -q repository migrations \
    && (cd iiif && npm ci --omit=dev --no-audit --no-fund)
EXPOSE 5000
ENV KHO_HOST=0.0.0.0
# Production WSGI server with timeouts (repository/web/gunicorn_conf.py); `kho serve` is for development.
CMD ["gunicorn", "--config", "python:repository.web.gunicorn_conf", "repository.web:create_app()"]
