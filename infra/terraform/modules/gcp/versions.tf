terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 5.x has google_cloudfunctions2_function with storage_source and bucket soft-delete settings.
      version = ">= 5.20, < 8.0"
    }
  }
}
