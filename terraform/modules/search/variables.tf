variable "create_domain" {
  description = "Create an OpenSearch Service domain; false uses existing_endpoint / existing_domain_arn."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Name of the domain to create."
  type        = string
  default     = "bucketlens"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.domain_name))
    error_message = "domain_name: 3-28 characters, lower-case letters, digits and '-', starting with a letter (OpenSearch's rule). The root module names it <name>-search: with enable_search, name is at most 21 characters."
  }
}

variable "existing_endpoint" {
  description = "https:// endpoint of an existing cluster (with create_domain = false)."
  type        = string
  default     = null

  validation {
    condition     = var.existing_endpoint == null || can(regex("^https://", var.existing_endpoint))
    error_message = "existing_endpoint must start with https://."
  }
}

variable "existing_domain_arn" {
  description = "ARN of the existing Amazon OpenSearch Service domain, for the IAM grants (null for a self-managed cluster: no IAM)."
  type        = string
  default     = null
}

variable "engine_version" {
  description = "OpenSearch engine version."
  type        = string
  default     = "OpenSearch_2.13"
}

variable "instance_type" {
  description = "Data node instance type."
  type        = string
  default     = "t3.medium.search"
}

variable "instance_count" {
  description = "Data nodes; two or more spread over availability zones."
  type        = number
  default     = 2

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 80
    error_message = "instance_count must be between 1 and 80."
  }
}

variable "dedicated_master_count" {
  description = "Dedicated master nodes (0, or 3 for production clusters)."
  type        = number
  default     = 0

  validation {
    condition     = contains([0, 3, 5], var.dedicated_master_count)
    error_message = "dedicated_master_count must be 0, 3 or 5."
  }
}

variable "volume_size" {
  description = "EBS gp3 volume per data node, GiB (a document is ~2 KB: 10 GiB holds millions)."
  type        = number
  default     = 20
}

variable "subnet_ids" {
  description = "Private subnets of the domain (one per availability zone used)."
  type        = list(string)
  default     = []
}

variable "client_security_groups" {
  description = "Security groups of what connects to the domain (the workers, the submitter), by a name known at plan: the domain's own group admits HTTPS (443) from them only."
  type        = map(string)
  default     = {}
}

variable "create_service_linked_role" {
  description = "Create AWSServiceRoleForAmazonOpenSearchService, which a domain in a VPC needs. It is one per account: leave false where it exists (any VPC domain ever made there created it), true in a fresh account."
  type        = bool
  default     = false
}

variable "master_user_arn" {
  description = "IAM ARN that administers the domain (fine-grained access control's master user); null creates one, the role of the setup function, which maps grants and turns audit logging on at deploy time."
  type        = string
  default     = null
}

variable "index" {
  description = "The index bucketlens writes; the roles the setup function maps are limited to it."
  type        = string
  default     = "bucketlens"
}

variable "grants" {
  description = "IAM role ARNs to map to each bucketlens OpenSearch role: bucketlens_writer (the workers), bucketlens_deleter (the submitter), bucketlens_reader (people and tools that search)."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.grants) : contains(["bucketlens_writer", "bucketlens_deleter", "bucketlens_reader"], k)])
    error_message = "grants: keys are bucketlens_writer, bucketlens_deleter and bucketlens_reader."
  }
}

variable "package" {
  description = "The submitter module's package output: the zip in S3 (it holds lambda_submitter.search_setup too). Needed with a created master user."
  type        = object({ bucket = string, key = string, version = string })
  default     = null
}

variable "package_hash" {
  description = "The submitter module's package_hash output, so the setup function is updated, and run again, with the code."
  type        = string
  default     = ""
}

variable "runtime" {
  description = "Lambda Python runtime of the setup function."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.runtime))
    error_message = "runtime must be python3.12 or newer: AWS no longer lets new functions use python3.11 or older."
  }
}

variable "architecture" {
  description = "Instruction set of the setup function: the one the shared zip's wheels were downloaded for."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for encryption at rest; null uses the AWS-managed key."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the audit log group."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key for the audit log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "log_resource_policy_ready" {
  description = "The name of the deployment's CloudWatch Logs resource policy, once it holds audit_log_policy: the domain waits for it before it publishes."
  type        = string
  default     = null
}
