# A complete Google Cloud deployment: bucket, Cloud Run function, Cloud Scheduler job and service
# accounts from modules/gcp, and the namespace's ServiceAccount and Roles from modules/kubernetes.

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "current" {}

data "google_container_cluster" "this" {
  name     = var.gke_cluster_name
  location = var.gke_cluster_location
}

provider "kubernetes" {
  host                   = "https://${data.google_container_cluster.this.endpoint}"
  cluster_ca_certificate = base64decode(data.google_container_cluster.this.master_auth[0].cluster_ca_certificate)
  token                  = data.google_client_config.current.access_token
}

module "backup" {
  source = "../../modules/gcp"

  project_id        = var.project_id
  region            = var.region
  bucket_name       = var.bucket_name
  bucket_location   = var.region
  function_zip_path = var.function_zip_path
  schedule          = var.schedule
  invoker_members   = var.invoker_members
  gke_endpoint      = data.google_container_cluster.this.endpoint
  gke_ca_data       = data.google_container_cluster.this.master_auth[0].cluster_ca_certificate
  namespace         = var.namespace
  service_name      = var.service_name
  secret_name       = var.secret_name
  agent_image       = var.agent_image
}

module "kubernetes" {
  source = "../../modules/kubernetes"

  namespace                         = var.namespace
  secret_name                       = var.secret_name
  agent_service_account_annotations = module.backup.agent_service_account_annotations
  # GKE presents a Google service account to RBAC as a User named by its email.
  dispatcher_subjects = [{ kind = "User", name = module.backup.function_service_account_email }]
}
