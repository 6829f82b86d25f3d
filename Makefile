# bucketlens: `make` lists the targets.
# One Python minor everywhere: the Lambda runtime (terraform lambda_runtime), the container (Dockerfile
# PYTHON_VERSION) and the tests. Where that minor is not installed, python3 stands in and says so.
PYTHON_MINOR := 3.13
PYTHON_CANDIDATES := $(wildcard $(HOME)/.pyenv/versions/$(PYTHON_MINOR).*/bin/python$(PYTHON_MINOR)) $(shell command -v python$(PYTHON_MINOR) 2>/dev/null)
PYTHON ?= $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(if $(shell $(p) -c 'print(1)' 2>/dev/null),$(p))) python3)
VENV ?= .venv
# the Terraform apply/destroy test mostly waits on the provider: a third worker keeps both cores busy
TEST_WORKERS ?= 3
PYTEST_ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(notdir $(PYTHON))
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_REQUIREMENT := checkov>=3.2,<4

.DEFAULT_GOAL := help
.PHONY: help venv test browser lint bench figures clean lock lambda-lock pin-base tf-check checkov tf-init plan deploy eventbridge build push destroy backfill relabel search status logs demo

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

# uv installs the same packages about four times faster than pip (7 s against 34 s for this venv from an
# empty cache); it comes from the package index itself, and where it cannot be installed pip does the work.
define install
	if $(1)/bin/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then \
	  $(1)/bin/uv pip install --quiet --python $(1)/bin/python --upgrade pip $(2); \
	else \
	  $(1)/bin/python -m pip install --quiet --upgrade pip && $(1)/bin/python -m pip install --quiet $(2); \
	fi
endef

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; v == "$(PYTHON_MINOR)" or print(f"note: Python $(PYTHON_MINOR) is not installed: testing on {v}, while the Lambda and the container run $(PYTHON_MINOR)")'
	@echo "setting up $(VENV) (once; uv when it can be installed, else pip)"
	@start=$$(date +%s); $(PYTHON) -m venv --clear $(VENV) && \
	$(call install,$(VENV),-e '.[test]') && \
	echo "$(VENV) ready in $$(( $$(date +%s) - start )) s"
	touch $@

venv: $(STAMP) ## Create the virtualenv and install bucketlens with its test tools

test: $(STAMP) $(CHECKOV_STAMP) browser ## Run the whole test suite (sets up the venvs, the test tools and, where it can, Chromium first)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

browser: ## Install Debian's chromium for the HTML report test when missing (root or passwordless sudo; else the test skips)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
			echo "chromium not installed and no root: the browser test will be skipped"; exit 0; fi; \
		$$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null; } || \
		echo "could not install chromium: the browser test will be skipped"; }

lint: $(STAMP) ## Lint the Python code, its layers (import-linter) and the Dockerfile
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check job lambda_submitter tests bench
	$(VENV)/bin/ruff format --check job lambda_submitter tests bench
	$(VENV)/bin/hadolint --failure-threshold warning Dockerfile

BENCHES := exif inventory listing worker faults latency onnx embed query

bench: $(STAMP) ## Run every benchmark (about 20 minutes), write bench/results/*.json and the docs' figures; fails naming any bench that missed a target
	@failed=; for b in $(BENCHES); do echo "== bench/$${b}_bench.py"; $(PY) bench/$${b}_bench.py || failed="$$failed $$b"; done; \
	$(PYTHON) bench/figures.py; \
	if [ -n "$$failed" ]; then echo "make bench: targets missed in:$$failed (see above; bench/results/*.json)"; exit 1; fi

figures: ## Write the README's and docs/benchmarks.md's figures from bench/results/*.json (what make bench wrote)
	$(PYTHON) bench/figures.py

lock: ## Re-pin both images' dependencies (CPU, GPU) and the build backend with every file's hash (requirements*.lock), then the Lambda's
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet 'pip-tools>=7.4,<8'
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --upgrade --extra onnx -o requirements.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --upgrade --extra gpu -c requirements.lock \
	  -o requirements-gpu.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --upgrade --only-build-deps --build-deps-for wheel \
	  -o requirements-build.lock pyproject.toml
	rm -rf $(VENV)-lock
	$(MAKE) lambda-lock

lambda-lock: ## Re-pin the Lambda zips' wheels (without and with onnxruntime), every platform's hash, at requirements.lock's versions
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet 'pip-tools>=7.4,<8'
	for lock in requirements requirements-models; do \
	  CUSTOM_COMPILE_COMMAND="make lambda-lock" $(VENV)-lock/bin/pip-compile --quiet --generate-hashes \
	    --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -c requirements.lock \
	    -o lambda_submitter/$$lock.txt lambda_submitter/$$lock.in || exit 1; \
	done
	rm -rf $(VENV)-lock

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) $(RUN_VENV) .pytest_cache .ruff_cache build *.egg-info

# --- Terraform checks (terraform/) ---------------------------------------------------------------
# Provider mirror for `terraform init -plugin-dir`; override with TF_PLUGIN_DIR=/path (the directory holding registry.terraform.io/).
TF_PLUGIN_DIR ?= $(patsubst %/registry.terraform.io/hashicorp/aws,%,$(firstword $(wildcard /opt/tf-plugins/registry.terraform.io/hashicorp/aws $(HOME)/.terraform.d/plugins/registry.terraform.io/hashicorp/aws /usr/local/share/terraform/plugins/registry.terraform.io/hashicorp/aws /usr/share/terraform/plugins/registry.terraform.io/hashicorp/aws)))
export TF_PLUGIN_DIR
TF_ROOTS := terraform terraform/examples/complete
lint: tf-check checkov

tf-check: ## terraform fmt -check, init from the local provider mirror and validate, for the root and every example
	@test -n "$(TF_PLUGIN_DIR)" || { echo "TF_PLUGIN_DIR is not set and no provider mirror was found"; exit 1; }
	terraform fmt -check -recursive terraform
	@for dir in $(TF_ROOTS); do \
		echo "terraform validate $$dir"; \
		terraform -chdir=$$dir init -backend=false -input=false -no-color -plugin-dir=$(TF_PLUGIN_DIR) >/dev/null && \
		terraform -chdir=$$dir validate -no-color || exit 1; \
	done

$(CHECKOV_STAMP):
	@start=$$(date +%s); $(PYTHON) -m venv $(CHECKOV_VENV) && \
	$(call install,$(CHECKOV_VENV),'$(CHECKOV_REQUIREMENT)') && \
	echo "$(CHECKOV_VENV) ready in $$(( $$(date +%s) - start )) s"
	touch $@

checkov: $(CHECKOV_STAMP) ## Security checks of terraform/ with checkov (own venv: its pins conflict with moto's)
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

# --- Deployment (needs an AWS account, the AWS CLI, Docker and Terraform) -------------------------
# The region: REGION=… on the command line, else the deployment's own (terraform.tfvars, read back as the
# Terraform output `region`). Nothing overrides terraform.tfvars unless REGION is given.
REGION ?=
TF_DIR ?= terraform
TF_VARS ?= $(TF_DIR)/terraform.tfvars
IMAGE_NAME ?= bucketlens
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
# GPU=1: the image's gpu target (onnxruntime-gpu), tagged <IMAGE_TAG>-gpu, which Terraform's gpu = true runs
GPU ?=
TAG_SUFFIX = $(if $(GPU),-gpu)
PLATFORM ?= linux/amd64
TERRAFORM ?= terraform
DOCKER ?= docker
AWS ?= aws
AUTO_APPROVE ?=
TF_ARGS = -input=false -var-file=$(abspath $(TF_VARS)) $(if $(REGION),-var region=$(REGION)) -var image_tag=$(IMAGE_TAG)
# One output of the applied deployment, or "nothing deployed here: run make deploy" and exit 78. It needs
# Python's standard library only, so deploying and pushing set up no virtualenv.
DEPLOYED = $(PYTHON) -m job --log-level ERROR deployed --dir $(TF_DIR) --terraform $(TERRAFORM)
# The operator commands that run bucketlens itself (eventbridge, status, backfill) use a virtualenv of its
# runtime dependencies only, not the test tools; RUN_PY=/path/to/python uses that Python as it is.
RUN_VENV ?= .venv-run
RUN_STAMP := $(RUN_VENV)/.installed-$(notdir $(PYTHON))
RUN_PY ?= $(RUN_VENV)/bin/python
RUN_DEPS = $(if $(filter file,$(origin RUN_PY)),$(RUN_STAMP))
# In a recipe: the region as the shell computes it (the recipe stops when nothing is deployed)
REGION_SH = $(or $(REGION),$$($(DEPLOYED) region))

tf-init: ## terraform init of the deployment (backend as configured in terraform/)
	$(TERRAFORM) -chdir=$(TF_DIR) init -input=false

plan: tf-init ## Show what `make deploy` would change
	$(TERRAFORM) -chdir=$(TF_DIR) plan $(TF_ARGS)

deploy: ## Everything, in order: init, ECR repository, build and push IMAGE_TAG (GPU=1: and its -gpu variant), then the rest
	$(MAKE) tf-init
	$(TERRAFORM) -chdir=$(TF_DIR) apply -auto-approve $(TF_ARGS) -target=module.ecr
	$(MAKE) build push GPU=
	$(if $(GPU),$(MAKE) build push GPU=1)
	$(TERRAFORM) -chdir=$(TF_DIR) apply $(if $(AUTO_APPROVE),-auto-approve) $(TF_ARGS)
	$(MAKE) eventbridge

$(RUN_STAMP): pyproject.toml
	@echo "setting up $(RUN_VENV) (once): bucketlens and its runtime dependencies, for the operator commands (onnxruntime too: search by meaning runs the text encoder here)"
	@$(PYTHON) -m venv --clear $(RUN_VENV) && $(call install,$(RUN_VENV),-e '.[onnx]')
	touch $@

eventbridge: $(RUN_DEPS) ## Turn on the images bucket's EventBridge delivery when the deployment asks for it (keeps its other notifications)
	@region=$(REGION_SH) && step=$$($(DEPLOYED) bucket_eventbridge_step 2>/dev/null); \
	if [ -n "$$step" ]; then echo "$$step"; AWS_DEFAULT_REGION=$$region AWS_REGION=$$region $(RUN_PY) $${step#python }; else echo "nothing to do: Terraform manages the bucket's notifications"; fi

# The base image by digest once `make pin-base` has written base-image.digest (else the tag, with a note).
BASE_IMAGE = $(strip $(shell cat base-image.digest 2>/dev/null))

build: ## docker build the worker image as $(IMAGE_NAME):$(IMAGE_TAG); GPU=1 builds the gpu variant as $(IMAGE_TAG)-gpu
	@test -n "$(BASE_IMAGE)" || echo "note: base-image.digest is missing: the base image is taken by tag (make pin-base pins it)"
	$(DOCKER) build --platform $(PLATFORM) $(if $(BASE_IMAGE),--build-arg PYTHON_IMAGE=$(BASE_IMAGE)) --target $(if $(GPU),gpu,cpu) --tag $(IMAGE_NAME):$(IMAGE_TAG)$(TAG_SUFFIX) .

pin-base: ## Pin the container's base image (python:<minor>-slim-bookworm) to the digest the registry serves now
	digest=$$($(DOCKER) buildx imagetools inspect python:$(PYTHON_MINOR)-slim-bookworm --format '{{json .Manifest.Digest}}' | tr -d '"') && \
	test -n "$$digest" && echo "python:$(PYTHON_MINOR)-slim-bookworm@$$digest" > base-image.digest && cat base-image.digest

push: ## Log in to ECR and push $(IMAGE_NAME):$(IMAGE_TAG) (GPU=1: the -gpu variant; skipped when the immutable tag is already there)
	url=$$($(DEPLOYED) ecr_repository_url) && region=$(REGION_SH) && tag=$(IMAGE_TAG)$(TAG_SUFFIX) && \
	if $(AWS) ecr describe-images --region $$region --repository-name "$${url#*/}" --image-ids imageTag=$$tag >/dev/null 2>&1; then \
		echo "$$url:$$tag already pushed"; \
	else \
		$(AWS) ecr get-login-password --region $$region | $(DOCKER) login --username AWS --password-stdin "$${url%%/*}" && \
		$(DOCKER) tag $(IMAGE_NAME):$$tag "$$url:$$tag" && \
		$(DOCKER) push "$$url:$$tag"; \
	fi

destroy: tf-init ## terraform destroy (the results table keeps deletion protection unless you turned it off)
	$(TERRAFORM) -chdir=$(TF_DIR) destroy $(TF_ARGS)

backfill: $(RUN_DEPS) ## Submit a backfill with the deployed settings: make backfill BUCKET=b [PREFIX=p] [DRY_RUN=1]
	@test -n "$(BUCKET)" || { echo "usage: make backfill BUCKET=<images bucket> [PREFIX=<prefix>] [DRY_RUN=1]"; exit 2; }
	@environment=$$($(DEPLOYED) submitter_environment --format env) && region=$(REGION_SH) && \
	env AWS_DEFAULT_REGION=$$region $$environment \
		$(RUN_PY) -m lambda_submitter backfill --bucket $(BUCKET) $(if $(PREFIX),--prefix $(PREFIX)) $(if $(DRY_RUN),--dry-run)

relabel: $(RUN_DEPS) ## Apply the prompt list to every stored embedding as a Batch job, reading no image: make relabel [PROMPTS=s3://…] [CHILDREN=4]
	@queue=$$($(DEPLOYED) job_queue_arn) && definition=$$($(DEPLOYED) job_definition_arn) && \
	prompts=$(or $(PROMPTS),$$($(DEPLOYED) prompts_uri)) && region=$(REGION_SH) && \
	AWS_DEFAULT_REGION=$$region $(RUN_PY) -m job relabel --prompts "$$prompts" --submit $(or $(CHILDREN),4) \
		--job-queue "$$queue" --job-definition "$$definition"

search: $(RUN_DEPS) ## Images by meaning with the deployed model: make search MEANING="a red car at night" (or LIKE=s3://bucket/key) [LIMIT=20]
	@test -n "$(MEANING)$(LIKE)" || { echo 'usage: make search MEANING="<description>" | LIKE=s3://<bucket>/<key> [LIMIT=20]'; exit 2; }
	@environment=$$($(DEPLOYED) search_environment --format env) && region=$(REGION_SH) && \
	env AWS_DEFAULT_REGION=$$region $$environment $(RUN_PY) -m job search --format table --limit $(or $(LIMIT),20) $(if $(MEANING),--meaning "$(MEANING)") $(if $(LIKE),--like "$(LIKE)")

status: $(RUN_DEPS) ## Children, images, rate, ETA and failed children of a job: make status JOB=<job id> [WATCH=1]
	@test -n "$(JOB)" || { echo "usage: make status JOB=<job id> [WATCH=1]"; exit 2; }
	@uri=$$($(DEPLOYED) results_uri) && region=$(REGION_SH) && \
	dashboard=$$($(DEPLOYED) dashboard_url 2>/dev/null || true) && \
	AWS_DEFAULT_REGION=$$region BUCKETLENS_DASHBOARD_URL="$$dashboard" $(RUN_PY) -m job status $(JOB) --results-uri "$$uri" $(if $(WATCH),--watch)

logs: ## Follow a job's log stream: make logs JOB=<job id>[:<array index>]
	@test -n "$(JOB)" || { echo "usage: make logs JOB=<job id>[:<array index>]"; exit 2; }
	group=$$($(DEPLOYED) worker_log_group_name) && region=$(REGION_SH) && \
	stream=$$($(AWS) batch describe-jobs --region $$region --jobs $(JOB) --query 'jobs[0].container.logStreamName' --output text) && \
	$(AWS) logs tail --region $$region "$$group" --log-stream-names "$$stream" --follow

# --- Demo (no AWS account: an embedded moto server) ------------------------------------------------
demo: $(STAMP) ## The whole pipeline against an emulated AWS on this machine: make demo [IMAGES=path/] [DEMO_RESOURCES=auto|terraform|setup]
	$(PY) -m job.demo --out demo-output --resources $(or $(DEMO_RESOURCES),auto) $(if $(IMAGES),--images $(IMAGES))
