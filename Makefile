# The two commands: `make run` and `make test`. Everything else is set-up they share.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := FLASK_APP=wsgi.py $(BIN)/flask
VENDOR := app/static/vendor

.PHONY: run test setup lint scheduler translations clean

# The interface's translations: the .po files are the source (committed), the .mo files are compiled here.
PO := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

setup: $(VENV)/.installed $(VENDOR)/.copied $(MO)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Front-end packages are served from app/static/vendor: nothing is loaded from a CDN.
$(VENDOR)/.copied: node_modules/.installed
	mkdir -p $(VENDOR)/bpmn-js $(VENDOR)/htmx $(VENDOR)/chartjs $(VENDOR)/swagger-ui
	cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js node_modules/bpmn-js/dist/bpmn-modeler.production.min.js $(VENDOR)/bpmn-js/
	cp -r node_modules/bpmn-js/dist/assets $(VENDOR)/bpmn-js/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chartjs/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	touch $@

$(MO): %.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -d app/translations

# After changing texts in templates, Python, workflows/ or forms/: collect them anew and merge them into
# each .po; translate what is new or fuzzy there (tests/test_i18n.py names any msgid left out).
translations: setup
	PYTHONPATH=. $(BIN)/pybabel extract -F babel.cfg -k _l -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --ignore-obsolete
	$(BIN)/pybabel compile -d app/translations

run: setup
	$(FLASK) db upgrade
	$(FLASK) processes deploy
	$(FLASK) demo
	ORDERLY_SCHEDULER=1 $(FLASK) run --host 127.0.0.1 --port 5000

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

# A stand-alone timer scheduler, for deployments that run several (see README).
scheduler: setup
	$(FLASK) scheduler

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(MO)
