variable "name" {
  description = "Table name; the worker and submitter get it through BUCKETLENS_TABLE."
  type        = string
  default     = "bucketlens-results"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be 3-255 characters of letters, digits, _ . and -."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the table (the index costs Rekognition calls to rebuild)."
  type        = bool
  default     = true
}

variable "point_in_time_recovery" {
  description = "Continuous backups, so a bad run can be rolled back."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the table; null uses the AWS-managed DynamoDB key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
