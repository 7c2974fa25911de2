# Google Cloud half of a deployment: the backup bucket, the Cloud Run function (gen2) that creates
# the backup Job, the Cloud Scheduler job that calls it with an OIDC token, and three service
# accounts that each hold one narrow grant.

locals {
  # Service account ids: 6-30 characters.
  sa_prefix = substr(var.name, 0, 22)

  function_environment = merge(
    {
      CLOUD_PROVIDER          = "gcp"
      GCS_BUCKET              = var.bucket_name
      CELL_DEFAULT_NAMESPACE  = var.namespace
      MARIADB_HA_SERVICE_NAME = var.service_name
      MARIADB_HA_SECRET_NAME  = var.secret_name
      AGENT_IMAGE             = var.agent_image
      AGENT_SERVICE_ACCOUNT   = var.agent_service_account_name
      K8S_ENDPOINT            = "https://${var.gke_endpoint}"
      K8S_CA_DATA             = var.gke_ca_data
    },
    length(var.dispatch_targets) > 0 ? { DISPATCH_TARGETS = jsonencode(var.dispatch_targets) } : {},
    var.extra_environment,
  )

  # IAM condition: objects under the prefix, and listing only with that prefix.
  prefix_condition = join(" || ", [
    "resource.name.startsWith(\"projects/_/buckets/${var.bucket_name}/objects/${var.backup_prefix}/\")",
    "(resource.type == \"storage.googleapis.com/Bucket\" && api.getAttribute(\"storage.googleapis.com/objectListPrefix\", \"\").startsWith(\"${var.backup_prefix}/\"))",
  ])
}

# ---------------------------------------------------------------------------------------------
# Buckets
# ---------------------------------------------------------------------------------------------

resource "google_storage_bucket" "backups" {
  #checkov:skip=CKV_GCP_62:Access logs need a second bucket the user owns; Cloud Audit Logs (data access) are the usual trail.
  project                     = var.project_id
  name                        = var.bucket_name
  location                    = var.bucket_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels
  # Per-object retention for the agent's BACKUP_LOCK_DAYS; only settable when the bucket is created.
  enable_object_retention = var.object_lock_enabled

  versioning {
    enabled = true
  }

  # Opt-in bucket-wide retention: no object can be deleted or replaced before it is this old.
  dynamic "retention_policy" {
    for_each = var.retention_policy_days > 0 ? [1] : []
    content {
      retention_period = var.retention_policy_days * 86400
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [1]
    content {
      default_kms_key_name = var.kms_key_name
    }
  }

  lifecycle_rule {
    condition {
      age            = var.expire_after_days
      matches_prefix = ["${var.backup_prefix}/"]
      with_state     = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_expire_after_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = var.abort_incomplete_multipart_after_days
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}

# Cloud Functions builds from a source archive in a bucket; it is kept apart from the backups.
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Holds only the function's source archive; Cloud Audit Logs cover access.
  project                     = var.project_id
  name                        = "${var.bucket_name}-fn-src"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_expire_after_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "function_source" {
  # Content-addressed name: a new package means a new object, which redeploys the function.
  name   = "dispatcher-${filemd5(var.function_zip_path)}.zip"
  bucket = google_storage_bucket.sources.name
  source = var.function_zip_path
}

# ---------------------------------------------------------------------------------------------
# Service accounts
# ---------------------------------------------------------------------------------------------

resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = "${local.sa_prefix}-fn"
  display_name = "MariaDB backup dispatcher (creates the backup Job)"
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${local.sa_prefix}-sched"
  display_name = "MariaDB backup schedule (invokes the dispatcher)"
}

resource "google_service_account" "agent" {
  project      = var.project_id
  account_id   = "${local.sa_prefix}-agent"
  display_name = "MariaDB backup agent (writes backups, via Workload Identity)"
}

# GKE lets a Google identity reach the API server only with container.clusters.get; clusterViewer
# grants that and read-only cluster metadata. What it may do inside is Kubernetes RBAC: the
# kubernetes module binds the dispatcher Role to this account's email.
resource "google_project_iam_member" "function_cluster_viewer" {
  project = var.project_id
  role    = "roles/container.clusterViewer"
  member  = "serviceAccount:${google_service_account.function.email}"
}

# The agent's Kubernetes ServiceAccount may act as the agent Google service account.
resource "google_service_account_iam_member" "agent_workload_identity" {
  service_account_id = google_service_account.agent.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${var.agent_service_account_name}]"
}

resource "google_storage_bucket_iam_member" "agent_objects" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.agent.email}"

  condition {
    title       = "backup-prefix-only"
    description = "Objects under ${var.backup_prefix}/ and listings of that prefix"
    expression  = local.prefix_condition
  }
}

# With object lock the agent also reads the bucket's retention setting and sets retention on its own
# objects; storage.objects.overrideUnlockedRetention (shortening a retention) is deliberately absent.
resource "google_project_iam_custom_role" "agent_retention" {
  count       = var.object_lock_enabled ? 1 : 0
  project     = var.project_id
  role_id     = replace("${var.name}_retention", "-", "_")
  title       = "mariadb-ha-backup object retention"
  permissions = ["storage.buckets.get", "storage.objects.setRetention"]
}

resource "google_storage_bucket_iam_member" "agent_retention" {
  count  = var.object_lock_enabled ? 1 : 0
  bucket = google_storage_bucket.backups.name
  role   = google_project_iam_custom_role.agent_retention[0].id
  member = "serviceAccount:${google_service_account.agent.email}"

  condition {
    title       = "backup-prefix-and-bucket-settings"
    description = "Retention on objects under ${var.backup_prefix}/, and reading the bucket's settings"
    expression  = "${local.prefix_condition} || resource.name == \"projects/_/buckets/${var.bucket_name}\""
  }
}

# ---------------------------------------------------------------------------------------------
# Function and schedule
# ---------------------------------------------------------------------------------------------

resource "google_cloudfunctions2_function" "dispatcher" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name}-dispatcher"
  description = "Creates the MariaDB backup Job(s) in Kubernetes"
  labels      = var.labels

  build_config {
    runtime     = "python311"
    entry_point = "dispatch"
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.function.email
    ingress_settings               = var.function_ingress
    all_traffic_on_latest_revision = true
    available_memory               = var.function_memory
    timeout_seconds                = var.function_timeout_seconds
    max_instance_count             = var.function_max_instances
    environment_variables          = local.function_environment
  }
}

# Only the scheduler's account (and any listed testers) may invoke; there is no allUsers binding.
resource "google_cloud_run_service_iam_member" "scheduler_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.dispatcher.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_run_service_iam_member" "test_invokers" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.dispatcher.name
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_cloud_scheduler_job" "backup" {
  project          = var.project_id
  region           = var.region
  name             = "${var.name}-backup"
  description      = "Runs the MariaDB backup dispatcher"
  schedule         = var.schedule
  time_zone        = var.schedule_timezone
  attempt_deadline = "${var.function_timeout_seconds + 30}s"

  retry_config {
    retry_count          = var.schedule_retry_count
    min_backoff_duration = "30s"
    max_doubling_count   = 3
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.dispatcher.service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    # Cloud Scheduler adds the X-CloudScheduler-ScheduleTime header on every attempt; the function
    # names the Job from it, so a retry maps to the same Job.
    body = base64encode(jsonencode({}))

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.dispatcher.service_config[0].uri
    }
  }

  # The schedule is meant to be edited in the console; later applies keep that edit.
  lifecycle {
    ignore_changes = [schedule, time_zone, paused]
  }

  depends_on = [google_cloud_run_service_iam_member.scheduler_invoker]
}
