# AWS half of a deployment: the bucket the agent writes to, the Lambda that creates the backup Job,
# the EventBridge schedule that calls it, and the identities that let each do exactly its part.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
  oidc_host  = var.oidc_issuer_url == null ? "" : replace(var.oidc_issuer_url, "https://", "")

  # What the dispatcher needs to build the Job; names are the agent's configuration contract.
  function_environment = merge(
    {
      CLOUD_PROVIDER          = "aws"
      S3_BUCKET               = var.bucket_name
      CELL_DEFAULT_NAMESPACE  = var.namespace
      MARIADB_HA_SERVICE_NAME = var.service_name
      MARIADB_HA_SECRET_NAME  = var.secret_name
      AGENT_IMAGE             = var.agent_image
      AGENT_SERVICE_ACCOUNT   = var.agent_service_account_name
      K8S_ENDPOINT            = var.eks_cluster_endpoint
      K8S_CA_DATA             = var.eks_cluster_ca_data
      EKS_CLUSTER_NAME        = var.eks_cluster_name
      POWERTOOLS_SERVICE_NAME = var.name
    },
    length(var.dispatch_targets) > 0 ? { DISPATCH_TARGETS = jsonencode(var.dispatch_targets) } : {},
    var.extra_environment,
  )
}

# ---------------------------------------------------------------------------------------------
# Bucket
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "backups" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket the user owns; CloudTrail data events are the usual audit trail for a backup bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a user decision (cost, residency); versioning is on so it can be added.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events; the manifest.json commit is read by the agent itself.
  bucket = var.bucket_name
  tags   = var.tags
  # Object Lock can only be turned on when the bucket is created (changing it replaces the bucket).
  object_lock_enabled = var.object_lock_enabled
}

# Opt-in immutability (agent: BACKUP_LOCK_DAYS). The agent sets each object's own retention; a default
# retention here also covers objects written by anything else, including the agent's claim markers.
resource "aws_s3_bucket_object_lock_configuration" "backups" {
  count  = var.object_lock_enabled ? 1 : 0
  bucket = aws_s3_bucket.backups.id

  dynamic "rule" {
    for_each = var.object_lock_default_days > 0 ? [1] : []
    content {
      default_retention {
        mode = var.object_lock_mode
        days = var.object_lock_default_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.backups]
}

resource "aws_s3_bucket_ownership_controls" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    id     = "expire-backups"
    status = "Enabled"
    filter {
      prefix = "${var.backup_prefix}/"
    }
    expiration {
      days = var.expire_after_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expire_after_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_after_days
    }
  }

  # Versioned deletes leave markers; drop them once the versions behind them have expired.
  rule {
    id     = "clean-delete-markers"
    status = "Enabled"
    filter {}
    expiration {
      expired_object_delete_marker = true
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_after_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.backups]
}

# Refuse plain-HTTP requests: backups hold every row of the database.
resource "aws_s3_bucket_policy" "tls_only" {
  bucket = aws_s3_bucket.backups.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.backups]
}

# ---------------------------------------------------------------------------------------------
# Agent identity: writes under one prefix, nothing else
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "agent_trust" {
  dynamic "statement" {
    for_each = var.agent_identity == "pod_identity" ? [1] : []
    content {
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.agent_identity == "irsa" ? [1] : []
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:sub"
        values   = ["system:serviceaccount:${var.namespace}:${var.agent_service_account_name}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "agent" {
  name               = "${var.name}-agent"
  assume_role_policy = data.aws_iam_policy_document.agent_trust.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = var.agent_identity == "pod_identity" || (var.oidc_provider_arn != null && var.oidc_issuer_url != null)
      error_message = "agent_identity = irsa needs oidc_provider_arn and oidc_issuer_url."
    }
  }
}

data "aws_iam_policy_document" "agent_bucket" {
  statement {
    sid = "ListOwnPrefix"
    # list (newest backup, retention) and find multipart uploads to abort, only under the prefix
    actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.backup_prefix}/*"]
    }
  }

  statement {
    sid = "ReadWriteOwnPrefix"
    # write backups, read them for verify/restore, delete them for retention, abort failed uploads
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.bucket_arn}/${var.backup_prefix}/*"]
  }

  dynamic "statement" {
    for_each = var.object_lock_enabled ? [1] : []
    content {
      sid = "RetainOwnObjects"
      # set and read per-object retention (BACKUP_LOCK_DAYS); never s3:BypassGovernanceRetention
      actions   = ["s3:PutObjectRetention", "s3:GetObjectRetention", "s3:GetObjectLegalHold"]
      resources = ["${local.bucket_arn}/${var.backup_prefix}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.object_lock_enabled ? [1] : []
    content {
      sid       = "CheckObjectLock"
      actions   = ["s3:GetBucketObjectLockConfiguration"]
      resources = [local.bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "agent_bucket" {
  name   = "backup-bucket-prefix"
  role   = aws_iam_role.agent.id
  policy = data.aws_iam_policy_document.agent_bucket.json
}

resource "aws_eks_pod_identity_association" "agent" {
  count           = var.agent_identity == "pod_identity" ? 1 : 0
  cluster_name    = var.eks_cluster_name
  namespace       = var.namespace
  service_account = var.agent_service_account_name
  role_arn        = aws_iam_role.agent.arn
  tags            = var.tags
}

# ---------------------------------------------------------------------------------------------
# Dispatcher function
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-dispatcher"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}-dispatcher"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  dynamic "statement" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      sid = "AttachToVpc"
      # ENI actions cannot be scoped to a resource (AWS documents "*" for them).
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "dispatcher"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_function" "dispatcher" {
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the user owns; the zip is built reproducibly and hashed (source_code_hash).
  #checkov:skip=CKV_AWS_50:One Kubernetes API call per target; JSON logs carry the Job names, X-Ray would add cost and a wildcard-resource grant.
  function_name                  = "${var.name}-dispatcher"
  description                    = "Creates the MariaDB backup Job(s) in Kubernetes"
  role                           = aws_iam_role.function.arn
  filename                       = var.function_zip_path
  source_code_hash               = filebase64sha256(var.function_zip_path)
  handler                        = "handler.handler"
  runtime                        = "python3.11"
  architectures                  = ["x86_64"]
  timeout                        = var.function_timeout_seconds
  memory_size                    = var.function_memory_mb
  reserved_concurrent_executions = var.function_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = local.function_environment
  }

  # Async invocations (the scheduler's) that still fail after Lambda's own retries land here.
  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
}

# The function reaches Kubernetes as this group; the kubernetes module binds the dispatcher Role to it.
resource "aws_eks_access_entry" "function" {
  cluster_name      = var.eks_cluster_name
  principal_arn     = aws_iam_role.function.arn
  kubernetes_groups = [var.kubernetes_group]
  type              = "STANDARD"
  tags              = var.tags
}

# ---------------------------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------------------------

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-dead-letter"
  message_retention_seconds = 1209600 # the maximum, 14 days: time to notice a missed backup
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeDispatcher"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.dispatcher.arn]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "EncryptDeadLetters"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-dispatcher"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "backup" {
  name                         = "${var.name}-backup"
  description                  = "Runs the MariaDB backup dispatcher"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.dispatcher.arn
    role_arn = aws_iam_role.scheduler.arn
    # The scheduled (not actual) time names the Job, so a retried delivery maps to the same Job.
    input = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>" })

    retry_policy {
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
      maximum_retry_attempts       = var.schedule_retry_attempts
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter.arn
    }
  }

  # The schedule is meant to be edited in the console; later applies keep that edit.
  lifecycle {
    ignore_changes = [schedule_expression, schedule_expression_timezone, state]
  }
}
