# Paper figures: the missing artifacts, then every figure (see experiments/README.md).
PYTHON ?= python

.PHONY: figures figures-fast figures-plan

figures:
	$(PYTHON) -m experiments.all

figures-fast:
	$(PYTHON) -m experiments.all --fast

figures-plan:
	$(PYTHON) -m experiments.all --plan
