# Azure half of a deployment: the backup storage account and container, a Linux Function App whose
# timer creates the backup Job, and the identities: the function's own (to reach AKS) and the
# agent's workload identity (to write blobs into the one container).

locals {
  container_scope = "${azurerm_storage_account.backups.id}/blobServices/default/containers/${azurerm_storage_container.backups.name}"

  function_environment = merge(
    {
      CLOUD_PROVIDER          = "azure"
      AZURE_STORAGE_ACCOUNT   = azurerm_storage_account.backups.name
      AZURE_STORAGE_CONTAINER = azurerm_storage_container.backups.name
      CELL_DEFAULT_NAMESPACE  = var.namespace
      MARIADB_HA_SERVICE_NAME = var.service_name
      MARIADB_HA_SECRET_NAME  = var.secret_name
      AGENT_IMAGE             = var.agent_image
      AGENT_SERVICE_ACCOUNT   = var.agent_service_account_name
      K8S_ENDPOINT            = var.aks_host
      K8S_CA_DATA             = var.aks_ca_data
    },
    length(var.dispatch_targets) > 0 ? { DISPATCH_TARGETS = jsonencode(var.dispatch_targets) } : {},
    var.extra_environment,
  )
}

# ---------------------------------------------------------------------------------------------
# Backup storage
# ---------------------------------------------------------------------------------------------

resource "azurerm_storage_account" "backups" {
  #checkov:skip=CKV_AZURE_59:AKS pods reach the account over its public endpoint unless the user adds a private endpoint; Entra ID auth is required (shared keys disabled).
  #checkov:skip=CKV2_AZURE_33:Private endpoints depend on the user's VNet layout; see docs/DEPLOY.md.
  #checkov:skip=CKV2_AZURE_1:Customer-managed keys are the user's choice; data is encrypted at rest with Microsoft-managed keys and infrastructure encryption.
  #checkov:skip=CKV_AZURE_33:The account holds no queues.
  name                              = var.storage_account_name
  resource_group_name               = var.resource_group_name
  location                          = var.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.storage_replication_type
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  infrastructure_encryption_enabled = true
  tags                              = var.tags

  # Version-level immutability for the agent's BACKUP_LOCK_DAYS (set at account creation); the policy
  # below is the default for every new blob version, the agent sets each backup's own date on top.
  dynamic "immutability_policy" {
    for_each = var.object_lock_enabled ? [1] : []
    content {
      allow_protected_append_writes = false
      state                         = "Unlocked"
      period_since_creation_in_days = var.object_lock_default_days
    }
  }

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = var.noncurrent_expire_after_days
    }

    container_delete_retention_policy {
      days = var.noncurrent_expire_after_days
    }
  }
}

resource "azurerm_storage_container" "backups" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging is a diagnostic setting to a Log Analytics workspace the user owns; this module creates none.
  name                  = var.container_name
  storage_account_id    = azurerm_storage_account.backups.id
  container_access_type = "private"
}

# Uncommitted blocks of an interrupted upload are discarded by the service after 7 days, so only
# committed backups and old versions need a rule.
resource "azurerm_storage_management_policy" "backups" {
  storage_account_id = azurerm_storage_account.backups.id

  rule {
    name    = "expire-backups"
    enabled = true

    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${azurerm_storage_container.backups.name}/${var.backup_prefix}/"]
    }

    actions {
      base_blob {
        delete_after_days_since_modification_greater_than = var.expire_after_days
      }
      version {
        delete_after_days_since_creation = var.noncurrent_expire_after_days
      }
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Agent identity: Azure Workload Identity, Blob Data Contributor on the one container
# ---------------------------------------------------------------------------------------------

resource "azurerm_user_assigned_identity" "agent" {
  name                = "${var.name}-agent"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "agent" {
  name                = "${var.name}-agent-${var.namespace}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.agent.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${var.agent_service_account_name}"
}

resource "azurerm_role_assignment" "agent_container" {
  scope                = local.container_scope
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.agent.principal_id
  principal_type       = "ServicePrincipal"
}

# ---------------------------------------------------------------------------------------------
# Function app
# ---------------------------------------------------------------------------------------------

resource "azurerm_storage_account" "functions" {
  #checkov:skip=CKV_AZURE_59:The Functions host reaches its own storage over the public endpoint unless the app is VNet-integrated.
  #checkov:skip=CKV2_AZURE_33:Private endpoints depend on the user's VNet layout.
  #checkov:skip=CKV2_AZURE_1:Holds only the host's leases and keys; Microsoft-managed keys.
  #checkov:skip=CKV_AZURE_33:Queue logging: the host's queues carry no backup data.
  #checkov:skip=CKV_AZURE_206:Host state is recreated on failover; locally redundant is enough.
  #checkov:skip=CKV2_AZURE_38:Host state needs no soft delete.
  name                              = var.function_storage_account_name
  resource_group_name               = var.resource_group_name
  location                          = var.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "LRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  infrastructure_encryption_enabled = true
  tags                              = var.tags
}

resource "azurerm_service_plan" "functions" {
  #checkov:skip=CKV_AZURE_212:One instance is enough for one timer a day; a missed run is retried by the next attempt and alerted on.
  #checkov:skip=CKV_AZURE_225:Zone redundancy needs Premium plans; the function runs for seconds a day.
  #checkov:skip=CKV_AZURE_211:B1 is the smallest plan with Always On, which timers need.
  name                = "${var.name}-plan"
  resource_group_name = var.resource_group_name
  location            = var.location
  os_type             = "Linux"
  sku_name            = var.service_plan_sku
  tags                = var.tags
}

resource "azurerm_linux_function_app" "dispatcher" {
  #checkov:skip=CKV_AZURE_221:The HTTP function for manual runs must be reachable; it requires a function key.
  name                          = "${var.name}-dispatcher"
  resource_group_name           = var.resource_group_name
  location                      = var.location
  service_plan_id               = azurerm_service_plan.functions.id
  storage_account_name          = azurerm_storage_account.functions.name
  storage_uses_managed_identity = true
  https_only                    = true
  client_certificate_enabled    = false
  zip_deploy_file               = var.function_zip_path
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }

  site_config {
    always_on           = true
    minimum_tls_version = "1.2"
    ftps_state          = "Disabled"
    http2_enabled       = true

    application_stack {
      python_version = "3.11"
    }
  }

  app_settings = merge(local.function_environment, {
    # %BACKUP_SCHEDULE% in the timer binding: edit it in the portal, see lifecycle below.
    BACKUP_SCHEDULE = var.backup_schedule
    # The zip ships its dependencies in .python_packages; no build on the server.
    WEBSITE_RUN_FROM_PACKAGE       = "1"
    SCM_DO_BUILD_DURING_DEPLOYMENT = "false"
  })

  lifecycle {
    # Console edits of the schedule stick across applies.
    ignore_changes = [app_settings["BACKUP_SCHEDULE"]]
  }
}

# The Functions host keeps timer leases and keys in its storage account, through its identity.
resource "azurerm_role_assignment" "function_host_storage" {
  scope                = azurerm_storage_account.functions.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_linux_function_app.dispatcher.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# ---------------------------------------------------------------------------------------------
# AKS access for the function's identity
# ---------------------------------------------------------------------------------------------
# With Kubernetes RBAC (the default), the kubernetes module binds the dispatcher Role to the
# identity's object id as a User. With Azure RBAC for Kubernetes, Azure decides instead: a custom
# role with only the Job data actions, assigned on the one namespace.

resource "azurerm_role_definition" "dispatcher" {
  count       = var.aks_azure_rbac ? 1 : 0
  name        = "${var.name}-dispatcher-${var.namespace}"
  scope       = var.aks_cluster_id
  description = "Create, read and list the backup Jobs; nothing else."

  permissions {
    data_actions = [
      "Microsoft.ContainerService/managedClusters/batch/jobs/read",
      "Microsoft.ContainerService/managedClusters/batch/jobs/write",
    ]
  }

  assignable_scopes = [var.aks_cluster_id]

  lifecycle {
    precondition {
      condition     = var.aks_cluster_id != null
      error_message = "aks_azure_rbac = true needs aks_cluster_id."
    }
  }
}

resource "azurerm_role_assignment" "dispatcher" {
  count              = var.aks_azure_rbac ? 1 : 0
  scope              = "${var.aks_cluster_id}/namespaces/${var.namespace}"
  role_definition_id = azurerm_role_definition.dispatcher[0].role_definition_resource_id
  principal_id       = azurerm_linux_function_app.dispatcher.identity[0].principal_id
  principal_type     = "ServicePrincipal"
}
