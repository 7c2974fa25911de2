# A complete AWS deployment: bucket, Lambda, schedule and IAM from modules/aws, and the namespace's
# ServiceAccount and Roles from modules/kubernetes, wired together.

provider "aws" {
  region = var.region
}

data "aws_eks_cluster" "this" {
  name = var.eks_cluster_name
}

data "aws_iam_openid_connect_provider" "this" {
  count = var.agent_identity == "irsa" ? 1 : 0
  url   = data.aws_eks_cluster.this.identity[0].oidc[0].issuer
}

provider "kubernetes" {
  host                   = data.aws_eks_cluster.this.endpoint
  cluster_ca_certificate = base64decode(data.aws_eks_cluster.this.certificate_authority[0].data)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", var.eks_cluster_name, "--region", var.region]
  }
}

module "backup" {
  source = "../../modules/aws"

  bucket_name          = var.bucket_name
  function_zip_path    = var.function_zip_path
  schedule_expression  = var.schedule_expression
  eks_cluster_name     = var.eks_cluster_name
  eks_cluster_endpoint = data.aws_eks_cluster.this.endpoint
  eks_cluster_ca_data  = data.aws_eks_cluster.this.certificate_authority[0].data
  agent_identity       = var.agent_identity
  oidc_provider_arn    = var.agent_identity == "irsa" ? data.aws_iam_openid_connect_provider.this[0].arn : null
  oidc_issuer_url      = var.agent_identity == "irsa" ? data.aws_eks_cluster.this.identity[0].oidc[0].issuer : null
  namespace            = var.namespace
  service_name         = var.service_name
  secret_name          = var.secret_name
  agent_image          = var.agent_image
}

module "kubernetes" {
  source = "../../modules/kubernetes"

  namespace                         = var.namespace
  secret_name                       = var.secret_name
  agent_service_account_annotations = module.backup.agent_service_account_annotations
  dispatcher_subjects               = [{ kind = "Group", name = module.backup.kubernetes_group }]
}
