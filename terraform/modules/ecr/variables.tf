variable "name" {
  description = "Repository name; the worker image is pushed here."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name (lower case letters, digits, . _ - /)."
  }
}

variable "image_tag_mutability" {
  description = "IMMUTABLE keeps a tag pointing at one image, so a job definition always runs what it was tested with."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

variable "kms_key_arn" {
  description = "KMS key for image layers; null uses the AWS-managed ECR key."
  type        = string
  default     = null
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (superseded builds) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "untagged_expiry_days must be a whole number >= 1."
  }
}

variable "force_delete" {
  description = "Allow destroy to delete a repository that still holds images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
