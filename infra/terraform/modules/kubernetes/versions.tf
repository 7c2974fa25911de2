terraform {
  required_version = ">= 1.6"

  required_providers {
    kubernetes = {
      source = "hashicorp/kubernetes"
      # 3.0: init_container restart_policy (the drill server is a native sidecar).
      version = ">= 3.0, < 4.0"
    }
  }
}
