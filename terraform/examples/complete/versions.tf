terraform {
  required_version = ">= 1.7" # removed blocks (modules/results)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 6.0"
    }
  }
}
