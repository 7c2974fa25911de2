terraform {
  required_version = ">= 1.6"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.x: storage containers by storage_account_id (management plane, so shared keys can stay
      # disabled) and https_traffic_only_enabled.
      version = ">= 4.9, < 5.0"
    }
  }
}
