# The namespace-side half of every deployment: who runs the agent, what it may read, and who may
# start it. Everything is namespaced (Role, not ClusterRole) so a leaked token reaches one namespace.

locals {
  namespace = var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : var.namespace
  labels = {
    "app.kubernetes.io/name"       = "mariadb-ha-backup"
    "app.kubernetes.io/managed-by" = "terraform"
  }
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name   = var.namespace
    labels = local.labels
  }
}

resource "kubernetes_service_account_v1" "agent" {
  metadata {
    name        = var.agent_service_account_name
    namespace   = local.namespace
    labels      = merge(local.labels, var.agent_service_account_labels)
    annotations = var.agent_service_account_annotations
  }
  # The agent reads its Secret through the API, so the Job's pod needs a token; it is projected
  # per pod (audience-bound, short-lived) rather than a long-lived Secret-based token.
  automount_service_account_token = true
}

# The agent's only Kubernetes permission: get the one Secret holding the root password.
resource "kubernetes_role_v1" "secret_reader" {
  metadata {
    name      = "${var.name}-secret-reader"
    namespace = local.namespace
    labels    = local.labels
  }

  rule {
    api_groups     = [""]
    resources      = ["secrets"]
    resource_names = [var.secret_name]
    verbs          = ["get"]
  }

  # The binlog archiver following the pods behind a Service (BINLOG_SOURCES_SERVICE in
  # binlog_archiver_env) reads that one Service and lists pods: shared/k8s/dispatcher_spec.py
  # pod_reader_rules.
  dynamic "rule" {
    for_each = var.binlog_archiver_enabled && lookup(var.binlog_archiver_env, "BINLOG_SOURCES_SERVICE", "") != "" ? [
      { resources = ["services"], resource_names = [var.binlog_archiver_env["BINLOG_SOURCES_SERVICE"]], verbs = ["get"] },
      { resources = ["pods"], resource_names = [], verbs = ["list"] },
    ] : []
    content {
      api_groups     = [""]
      resources      = rule.value.resources
      resource_names = length(rule.value.resource_names) > 0 ? rule.value.resource_names : null
      verbs          = rule.value.verbs
    }
  }
}

resource "kubernetes_role_binding_v1" "secret_reader" {
  metadata {
    name      = "${var.name}-secret-reader"
    namespace = local.namespace
    labels    = local.labels
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.secret_reader.metadata[0].name
  }

  subject {
    kind      = "ServiceAccount"
    name      = kubernetes_service_account_v1.agent.metadata[0].name
    namespace = local.namespace
  }
}

# Physical backups (opt-in, BACKUP_METHOD=physical on the function): the dispatcher chooses a Ready
# Galera node and pins the Job beside it, so it also reads the one Service's selector, lists pods,
# reads PVCs and (mariadb-operator) the MariaDB's status.currentPrimary. Exactly the calls it makes:
# the list in shared/k8s/dispatcher_spec.py node_reader_rules (a test compares them).
locals {
  node_reader_rules = [
    { api_groups = [""], resources = ["services"], resource_names = [var.mariadb_service_name], verbs = ["get"] },
    { api_groups = [""], resources = ["pods"], resource_names = [], verbs = ["list"] },
    { api_groups = [""], resources = ["persistentvolumeclaims"], resource_names = [], verbs = ["get"] },
    { api_groups = ["k8s.mariadb.com"], resources = ["mariadbs"], resource_names = [], verbs = ["get"] },
  ]
}

# The function's only permission: create a backup Job, read it back (409 handling), and list Jobs
# by label to skip while one is active. No update/delete/patch, no secrets; pods, PVCs and the one
# Service only for physical backups.
resource "kubernetes_role_v1" "dispatcher" {
  metadata {
    name      = "${var.name}-dispatcher"
    namespace = local.namespace
    labels    = local.labels
  }

  rule {
    api_groups = ["batch"]
    resources  = ["jobs"]
    verbs      = ["create", "get", "list"]
  }

  dynamic "rule" {
    for_each = var.physical_backups_enabled ? local.node_reader_rules : []
    content {
      api_groups     = rule.value.api_groups
      resources      = rule.value.resources
      resource_names = length(rule.value.resource_names) > 0 ? rule.value.resource_names : null
      verbs          = rule.value.verbs
    }
  }

  lifecycle {
    precondition {
      condition     = !var.physical_backups_enabled || var.mariadb_service_name != ""
      error_message = "physical_backups_enabled needs mariadb_service_name (the Service whose pods are the Galera nodes)."
    }
  }
}

resource "kubernetes_role_binding_v1" "dispatcher" {
  metadata {
    name      = "${var.name}-dispatcher"
    namespace = local.namespace
    labels    = local.labels
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.dispatcher.metadata[0].name
  }

  dynamic "subject" {
    for_each = var.dispatcher_subjects
    content {
      api_group = "rbac.authorization.k8s.io"
      kind      = subject.value.kind
      name      = subject.value.name
    }
  }
}

# The agent's container and pod, one copy for the binlog archiver Deployment and the drill CronJob: the
# provider has no shared pod template, so their blocks read these values. They mirror what shared/k8s
# renders for every agent pod (infra/kubernetes/*.yaml).
locals {
  agent_uid = 10001
  agent_resources = {
    requests = { cpu = "500m", memory = "256Mi", "ephemeral-storage" = "1Gi" }
    limits   = { memory = "1Gi", "ephemeral-storage" = "21760Mi" }
  }
  # The emptyDirs the agent writes to (its root filesystem is read-only): mount path, and size limit.
  agent_spool   = "/var/spool/mariadb-ha-backup"
  agent_mounts  = { spool = local.agent_spool, tmp = "/tmp" }
  agent_volumes = { spool = "20Gi", tmp = "256Mi" }
  agent_labels = {
    "app.kubernetes.io/name"       = "mariadb-ha-backup"
    "app.kubernetes.io/instance"   = var.mariadb_service_name
    "app.kubernetes.io/managed-by" = "terraform"
  }
}

# The binlog archiver (opt-in): `archive-binlogs --follow` as a one-replica Deployment running the
# backup Job's pod (same image, ServiceAccount and Secret access, same hardening). It mirrors
# infra/kubernetes/binlog-archiver.yaml, rendered from shared/k8s/archiver_spec.py.

locals {
  archiver_labels = merge(local.agent_labels, { "app.kubernetes.io/component" = "binlog-archiver" })
  archiver_env = merge({
    CELL_DEFAULT_NAMESPACE  = local.namespace
    MARIADB_HA_SERVICE_NAME = var.mariadb_service_name
    MARIADB_HA_SECRET_NAME  = var.secret_name
    BACKUP_TMPDIR           = local.agent_spool
  }, var.binlog_archiver_env)
}

resource "kubernetes_deployment_v1" "binlog_archiver" {
  count = var.binlog_archiver_enabled ? 1 : 0
  # checkov:skip=CKV_K8S_8:No port to probe: when the stream or the bucket fails for good the archiver exits and the Deployment restarts it
  # checkov:skip=CKV_K8S_9:No Service routes to the archiver: readiness gates nothing
  # checkov:skip=CKV_K8S_11:No CPU limit on purpose, as for the backup Job: throttling only adds lag
  # checkov:skip=CKV_K8S_43:The image is the caller's variable; pin it by digest there
  # checkov:skip=CKV_K8S_15:IfNotPresent is right for a digest- or version-pinned image
  # checkov:skip=CKV_K8S_38:The agent reads its Secret through the API: it needs its ServiceAccount token

  metadata {
    name      = "mariadb-ha-backup-binlogs-${var.mariadb_service_name}"
    namespace = local.namespace
    labels    = local.archiver_labels
  }

  spec {
    replicas = 1

    # The old pod is gone before the new one starts: two archivers of one target never overlap.
    strategy {
      type = "Recreate"
    }

    selector {
      match_labels = local.archiver_labels
    }

    template {
      metadata {
        labels = local.archiver_labels
      }

      spec {
        service_account_name             = kubernetes_service_account_v1.agent.metadata[0].name
        automount_service_account_token  = true
        enable_service_links             = false
        termination_grace_period_seconds = 60

        security_context {
          run_as_non_root = true
          run_as_user     = local.agent_uid
          run_as_group    = local.agent_uid
          fs_group        = local.agent_uid
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "agent"
          image             = var.agent_image
          image_pull_policy = "IfNotPresent"
          args              = ["archive-binlogs", "--follow"]

          dynamic "env" {
            for_each = local.archiver_env
            content {
              name  = env.key
              value = env.value
            }
          }

          resources {
            requests = local.agent_resources.requests
            limits   = local.agent_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            run_as_non_root            = true
            capabilities {
              drop = ["ALL"]
            }
            seccomp_profile {
              type = "RuntimeDefault"
            }
          }

          dynamic "volume_mount" {
            for_each = local.agent_mounts
            content {
              name       = volume_mount.key
              mount_path = volume_mount.value
            }
          }
        }

        dynamic "volume" {
          for_each = local.agent_volumes
          content {
            name = volume.key
            empty_dir {
              size_limit = volume.value
            }
          }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.agent_image != "" && var.mariadb_service_name != ""
      error_message = "binlog_archiver_enabled needs agent_image and mariadb_service_name."
    }
  }
}

# Nothing connects to the archiver; egress stays open (MariaDB, DNS, the API, the object store).
resource "kubernetes_network_policy_v1" "binlog_archiver" {
  count = var.binlog_archiver_enabled ? 1 : 0

  metadata {
    name      = "mariadb-ha-backup-binlogs-${var.mariadb_service_name}"
    namespace = local.namespace
    labels    = local.archiver_labels
  }

  spec {
    pod_selector {
      match_labels = local.archiver_labels
    }
    policy_types = ["Ingress"]
  }
}

# The restore drill (opt-in): a weekly CronJob restores the newest backup into a throwaway MariaDB
# server beside the agent and records drill.json beside it (docs/OPERATIONS.md, "Restore drills").
# It mirrors infra/kubernetes/drill-cronjob.yaml, rendered from shared/k8s/drill_spec.py: the server
# is your MariaDB image on an emptyDir, a native sidecar (restart_policy Always: Kubernetes 1.29+ and
# provider 3.0+), listening on loopback only; the agent gets no API token and not the root Secret.

locals {
  drill_labels = merge(local.agent_labels, { "app.kubernetes.io/component" = "drill" })
  drill_env = merge({
    CELL_DEFAULT_NAMESPACE  = local.namespace
    MARIADB_HA_SERVICE_NAME = var.mariadb_service_name
    BACKUP_TMPDIR           = local.agent_spool
    DRILL_SERVER            = "127.0.0.1:3306"
    }, var.drill_env, var.drill_recovery_target_seconds == null ? {} : {
    DRILL_RECOVERY_TARGET_SECONDS = tostring(var.drill_recovery_target_seconds)
  })
}

resource "kubernetes_cron_job_v1" "drill" {
  count = var.drill_enabled ? 1 : 0
  # checkov:skip=CKV_K8S_11:No CPU limit on purpose, as for the backup Job: throttling only slows the restore
  # checkov:skip=CKV_K8S_43:The images are the caller's variables; pin them by digest there
  # checkov:skip=CKV_K8S_15:IfNotPresent is right for a digest- or version-pinned image
  # checkov:skip=CKV_K8S_40:The drill server runs as the MariaDB image's own mysql user (uid 999), which owns its emptyDirs

  metadata {
    name      = "mariadb-ha-drill-${var.mariadb_service_name}"
    namespace = local.namespace
    labels    = local.drill_labels
  }

  spec {
    schedule                      = var.drill_schedule
    timezone                      = "Etc/UTC"
    concurrency_policy            = "Forbid"
    starting_deadline_seconds     = 3600
    successful_jobs_history_limit = 3
    failed_jobs_history_limit     = 3

    job_template {
      metadata {
        labels = local.drill_labels
      }

      spec {
        # A failed drill is an answer, not a glitch: another pod would drill the same backup again.
        backoff_limit              = 0
        active_deadline_seconds    = 14400
        ttl_seconds_after_finished = 259200

        template {
          metadata {
            labels = local.drill_labels
          }

          spec {
            service_account_name             = kubernetes_service_account_v1.agent.metadata[0].name
            automount_service_account_token  = false
            restart_policy                   = "Never"
            enable_service_links             = false
            termination_grace_period_seconds = 60

            security_context {
              run_as_non_root = true
              run_as_user     = local.agent_uid
              run_as_group    = local.agent_uid
              fs_group        = local.agent_uid
              seccomp_profile {
                type = "RuntimeDefault"
              }
            }

            init_container {
              name              = "drill-server"
              image             = var.drill_server_image
              image_pull_policy = "IfNotPresent"
              restart_policy    = "Always"
              args              = ["--bind-address=127.0.0.1", "--skip-name-resolve", "--max-allowed-packet=1G"]

              # Safe only on loopback inside the pod: the agent sets a random password before restoring.
              env {
                name  = "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
                value = "1"
              }

              resources {
                requests = {
                  cpu                 = "500m"
                  memory              = "1Gi"
                  "ephemeral-storage" = var.drill_datadir_size_limit
                }
                limits = {
                  memory = "2Gi"
                  # The datadir plus 1Gi for the server's logs and temporary tables.
                  "ephemeral-storage" = "${tonumber(trimsuffix(var.drill_datadir_size_limit, "Gi")) * 1024 + 1024}Mi"
                }
              }

              security_context {
                allow_privilege_escalation = false
                read_only_root_filesystem  = true
                run_as_non_root            = true
                run_as_user                = 999
                run_as_group               = 999
                capabilities {
                  drop = ["ALL"]
                }
                seccomp_profile {
                  type = "RuntimeDefault"
                }
              }

              volume_mount {
                name       = "datadir"
                mount_path = "/var/lib/mysql"
              }
              volume_mount {
                name       = "server-run"
                mount_path = "/run/mysqld"
              }
              volume_mount {
                name       = "server-tmp"
                mount_path = "/tmp"
              }
            }

            container {
              name              = "agent"
              image             = var.agent_image
              image_pull_policy = "IfNotPresent"
              args              = ["drill"]

              dynamic "env" {
                for_each = local.drill_env
                content {
                  name  = env.key
                  value = env.value
                }
              }

              resources {
                requests = local.agent_resources.requests
                limits   = local.agent_resources.limits
              }

              security_context {
                allow_privilege_escalation = false
                read_only_root_filesystem  = true
                run_as_non_root            = true
                capabilities {
                  drop = ["ALL"]
                }
                seccomp_profile {
                  type = "RuntimeDefault"
                }
              }

              dynamic "volume_mount" {
                for_each = local.agent_mounts
                content {
                  name       = volume_mount.key
                  mount_path = volume_mount.value
                }
              }
            }

            dynamic "volume" {
              for_each = local.agent_volumes
              content {
                name = volume.key
                empty_dir {
                  size_limit = volume.value
                }
              }
            }
            # The drill server's own: its data directory, socket and temporary files.
            volume {
              name = "datadir"
              empty_dir {
                size_limit = var.drill_datadir_size_limit
              }
            }
            volume {
              name = "server-run"
              empty_dir {
                size_limit = "16Mi"
              }
            }
            volume {
              name = "server-tmp"
              empty_dir {
                size_limit = "256Mi"
              }
            }
          }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.agent_image != "" && var.mariadb_service_name != "" && var.drill_server_image != ""
      error_message = "drill_enabled needs agent_image, mariadb_service_name and drill_server_image."
    }
  }
}
