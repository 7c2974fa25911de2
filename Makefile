# Convenience targets; each is a thin wrapper so CI and people run the same commands.
PYTHON ?= .venv/bin/python
CHECKOV ?= .venv-checkov/bin/checkov
HELM ?= .venv/bin/helm

.PHONY: package manifests check-infra

## package: build dist/functions/{aws,gcp,azure}.zip (reproducible) for the Terraform modules
package:
	$(PYTHON) scripts/package-functions

## manifests: re-render infra/kubernetes/*.yaml from shared/k8s (the Job builder is the source of truth)
manifests:
	$(PYTHON) scripts/render-k8s-manifests

## check-infra: terraform fmt, checkov over infra/ (no providers needed), the Helm chart and the alert rules
check-infra:
	terraform fmt -check -recursive infra/terraform
	$(CHECKOV) --directory infra --framework terraform kubernetes dockerfile --skip-download --compact --quiet
	$(HELM) lint --strict infra/helm/mariadb-ha-backup
	PATH="$(dir $(abspath $(HELM))):$$PATH" $(CHECKOV) --directory infra/helm --framework helm --skip-download --compact --quiet
	cd infra/monitoring && promtool check rules alerts.yml && promtool test rules alerts_test.yml alerts_test_days.yml
