# Every target bootstraps .venv idempotently. torch==2.13.0 (CPU wheel on local disk) is installed
# first so that no dependency ever pulls a CUDA build; torchattacks is installed with --no-deps.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.semadv-installed
TORCH := torch==2.13.0

.PHONY: venv demo test test-slow bench lint clean recipes recipe-face-robustness recipe-type1 recipe-advspade recipe-semanticadv recipe-render-sae

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	bash scripts/install-libllvm19.sh
	$(BIN)/python -m pip install -q -e '.[dev,distributed,render3d]'
	$(BIN)/python -m pip install -q --no-deps torchattacks==3.5.1
	$(BIN)/python -c "import torch, kornia, torchattacks; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/semadv demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pgd.py
	$(BIN)/python benchmarks/bench_ellipsoid.py
	$(BIN)/python benchmarks/bench_worlds.py
	$(BIN)/python benchmarks/bench_certify.py
	$(BIN)/python benchmarks/bench_ray.py
	$(BIN)/python benchmarks/bench_semanticadv.py

# Seed-paper recipes: each regenerates its docs/results/*.md page from measurements (sizes in the configs).
recipes: recipe-face-robustness recipe-type1 recipe-advspade recipe-semanticadv recipe-render-sae

recipe-face-robustness: $(STAMP)
	$(BIN)/semadv run configs/recipes/face_robustness.toml --out docs/results/face_robustness

recipe-type1: $(STAMP)
	$(BIN)/semadv run configs/recipes/type1.toml --out docs/results/type1

recipe-advspade: $(STAMP)
	$(BIN)/semadv run configs/recipes/advspade.toml --out docs/results/advspade

recipe-semanticadv: $(STAMP)
	$(BIN)/semadv run configs/recipes/semanticadv.toml --out docs/results/semanticadv

recipe-render-sae: $(STAMP)
	$(BIN)/semadv run configs/recipes/render_sae.toml --out docs/results/render_sae

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
