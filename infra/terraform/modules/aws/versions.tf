terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.34 added aws_eks_pod_identity_association; aws_eks_access_entry is from 5.33.
      version = ">= 5.34, < 7.0"
    }
  }
}
