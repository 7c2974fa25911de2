# Convenience targets; each is a thin wrapper so CI and people run the same commands.
PYTHON ?= .venv/bin/python
CHECKOV ?= .venv-checkov/bin/checkov

.PHONY: package manifests check-infra

## package: build dist/functions/{aws,gcp,azure}.zip (reproducible) for the Terraform modules
package:
	$(PYTHON) scripts/package-functions

## manifests: re-render infra/kubernetes/*.yaml from shared/k8s (the Job builder is the source of truth)
manifests:
	$(PYTHON) scripts/render-k8s-manifests

## check-infra: terraform fmt and checkov over infra/ (no providers needed)
check-infra:
	terraform fmt -check -recursive infra/terraform
	$(CHECKOV) --directory infra --framework terraform kubernetes dockerfile --skip-download --compact --quiet
