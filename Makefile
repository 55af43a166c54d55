# The two commands of the README. Each creates .venv if missing and installs the project into it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install clean drift-demo monitor-demo

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m pipeline.demo

drift-demo: $(STAMP)
	$(PY) -m pipeline.drift_demo

monitor-demo: $(STAMP)
	$(PY) -m pipeline.quality_demo

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) .local-sagemaker .demo .pytest_cache
