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

# The function's only permission: create a backup Job, read it back (409 handling), and list Jobs
# by label to skip while one is active. No update/delete/patch, no pods, no secrets.
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
