variable "bucket_name" {
  description = "Bucket for manifests and run summaries; null lets Terraform pick a unique name from bucket_prefix."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower case letters, digits, . and -)."
  }
}

variable "bucket_prefix" {
  description = "Name prefix used when bucket_name is null."
  type        = string
  default     = "bucketlens-manifests-"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{0,36}$", var.bucket_prefix))
    error_message = "bucket_prefix must be at most 37 lower case letters, digits, . and -."
  }
}

variable "manifests_prefix" {
  description = "Key prefix the submitter writes manifests under (BUCKETLENS_MANIFESTS_PREFIX)."
  type        = string
  default     = "manifests"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.manifests_prefix))
    error_message = "manifests_prefix must be a key prefix without leading or trailing slash."
  }
}

variable "runs_prefix" {
  description = "Key prefix the worker writes run summaries under (BUCKETLENS_RESULTS_URI)."
  type        = string
  default     = "runs"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.runs_prefix))
    error_message = "runs_prefix must be a key prefix without leading or trailing slash."
  }
}

variable "expiry_days" {
  description = "Days after which manifests and run summaries expire (a backfill finishes long before)."
  type        = number
  default     = 30

  validation {
    condition     = var.expiry_days >= 1 && floor(var.expiry_days) == var.expiry_days
    error_message = "expiry_days must be a whole number >= 1."
  }
}

variable "noncurrent_expiry_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_expiry_days >= 1 && floor(var.noncurrent_expiry_days) == var.noncurrent_expiry_days
    error_message = "noncurrent_expiry_days must be a whole number >= 1."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow destroy to empty the bucket first."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
