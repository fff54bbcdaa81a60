# Kho's set-up. Two commands do everything on a fresh machine:
#   make run    - install into .venv and serve Kho on its embedded default (SQLite + local folder)
#   make test   - install everything the tests need (system packages too) and run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages the tests drive (a real browser; faketime runs `kho serve` on a later day
# so an embargo can end; Tesseract with its Vietnamese and French data for OCR; a font with
# Vietnamese glyphs for OCR test pages and PDF title pages; curl, zip and iproute2 for the
# README's own commands), and the peers the benchmarks measure
# Kho against (IIPImage behind lighttpd, loaded by wrk).
APT_PACKAGES := chromium chromium-driver curl zip iproute2 faketime fonts-dejavu-core \
                tesseract-ocr tesseract-ocr-vie tesseract-ocr-fra
BENCH_APT_PACKAGES := iipimage-server lighttpd wrk

.PHONY: run test install install-test system-deps viewer translations bytecode messages benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed viewer translations bytecode

install-test: $(VENV)/.installed-test viewer translations bytecode
	@$(MAKE) --no-print-directory system-deps PACKAGES="$(APT_PACKAGES)"

# Installs Debian packages only when one is missing, so repeated runs stay fast.
system-deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Mirador from the npm registry, bundled into iiif/ so the viewer works with no internet.
viewer: iiif/node_modules/.installed

iiif/node_modules/.installed: iiif/package.json iiif/package-lock.json
	cd iiif && npm ci --no-audit --no-fund --silent
	touch $@

# The web pages' gettext catalogues (.po, kept in git) compiled to the .mo files Flask-Babel
# reads. After changing a template's strings: `make messages`, translate, then this.
translations: | $(BIN)/python
	$(BIN)/pybabel compile -d repository/web/translations -D messages

# Kho's modules compiled once at install, as pip does for a wheel. An editable install is
# otherwise compiled at every start wherever bytecode is not written (PYTHONDONTWRITEBYTECODE,
# a fresh container): 0.05 s of each `kho` command, measured on `kho fixity run`.
bytecode: | $(BIN)/python
	$(BIN)/python -m compileall -q repository migrations

messages: | $(BIN)/python
	$(BIN)/pybabel extract -F repository/web/babel.cfg -k _ -k gettext -k ngettext:1,2 \
	  --no-location --sort-output -o repository/web/translations/messages.pot repository/web
	$(BIN)/pybabel update -i repository/web/translations/messages.pot \
	  -d repository/web/translations -D messages --no-fuzzy-matching

run: install
	$(BIN)/kho serve

test: install-test
	$(BIN)/python -m pytest -n 3

benchmark: install-test
	@$(MAKE) --no-print-directory system-deps PACKAGES="$(BENCH_APT_PACKAGES)"
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/iiif.py
	$(BIN)/python benchmarks/fixity.py
	$(BIN)/python benchmarks/replicate.py
	$(BIN)/python benchmarks/oai.py
	$(BIN)/python benchmarks/holdings.py
	$(BIN)/python benchmarks/ocr.py
	$(BIN)/python benchmarks/search.py

clean:
	rm -rf $(VENV) kho-data iiif/node_modules
