# A complete Azure deployment: storage, Function App and identities from modules/azure, and the
# namespace's ServiceAccount and Roles from modules/kubernetes.

provider "azurerm" {
  subscription_id = var.subscription_id
  features {}
}

data "azurerm_kubernetes_cluster" "this" {
  name                = var.aks_cluster_name
  resource_group_name = var.aks_resource_group_name
}

# Entra ID-integrated clusters: kubelogin turns the Azure CLI login into a cluster token.
provider "kubernetes" {
  host                   = data.azurerm_kubernetes_cluster.this.kube_config[0].host
  cluster_ca_certificate = base64decode(data.azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "kubelogin"
    args        = ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
  }
}

module "backup" {
  source = "../../modules/azure"

  resource_group_name           = var.resource_group_name
  location                      = var.location
  storage_account_name          = var.storage_account_name
  function_storage_account_name = var.function_storage_account_name
  function_zip_path             = var.function_zip_path
  backup_schedule               = var.backup_schedule
  aks_host                      = data.azurerm_kubernetes_cluster.this.kube_config[0].host
  aks_ca_data                   = data.azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate
  aks_oidc_issuer_url           = data.azurerm_kubernetes_cluster.this.oidc_issuer_url
  aks_cluster_id                = data.azurerm_kubernetes_cluster.this.id
  aks_azure_rbac                = var.aks_azure_rbac
  namespace                     = var.namespace
  service_name                  = var.service_name
  secret_name                   = var.secret_name
  agent_image                   = var.agent_image
}

module "kubernetes" {
  source = "../../modules/kubernetes"

  namespace                         = var.namespace
  secret_name                       = var.secret_name
  agent_service_account_annotations = module.backup.agent_service_account_annotations
  # AKS presents a managed identity to Kubernetes RBAC as a User named by its object id.
  dispatcher_subjects = [{ kind = "User", name = module.backup.function_principal_id }]
}
