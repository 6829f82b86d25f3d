variable "name" {
  description = "Name prefix for the queues and the inventory configuration."
  type        = string
  default     = "bucketlens"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,60}$", var.name))
    error_message = "name must be 1-60 letters, digits, _ or -."
  }
}

variable "images_bucket_name" {
  description = "The existing bucket whose images are indexed; its notification configuration is owned by this module."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.images_bucket_name))
    error_message = "images_bucket_name must be a valid S3 bucket name."
  }
}

variable "extensions" {
  description = "Image file extensions (lower case, no dot) that send events; the upper-case form is added too."
  type        = list(string)
  default     = ["jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif", "avif"]

  validation {
    condition     = length(var.extensions) > 0 && alltrue([for e in var.extensions : can(regex("^[a-z0-9]+$", e))])
    error_message = "extensions must be a non-empty list of lower-case extensions without the dot."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a message is hidden while the submitter works on it; AWS advises six times the Lambda timeout."
  type        = number
  default     = 360

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "message_retention_seconds" {
  description = "How long an unprocessed event waits in the queue."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "max_receive_count" {
  description = "Deliveries before an event is moved to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "enable_inventory" {
  description = "Configure S3 Inventory on the images bucket and route its manifest.json files to the submitter."
  type        = bool
  default     = true
}

variable "inventory_frequency" {
  description = "How often S3 Inventory lists the images bucket."
  type        = string
  default     = "Weekly"

  validation {
    condition     = contains(["Daily", "Weekly"], var.inventory_frequency)
    error_message = "inventory_frequency must be Daily or Weekly."
  }
}

variable "inventory_bucket_prefix" {
  description = "Name prefix of the bucket that receives S3 Inventory reports."
  type        = string
  default     = "bucketlens-inventory-"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{0,36}$", var.inventory_bucket_prefix))
    error_message = "inventory_bucket_prefix must be at most 37 lower case letters, digits, . and -."
  }
}

variable "inventory_expiry_days" {
  description = "Days after which inventory reports expire."
  type        = number
  default     = 14

  validation {
    condition     = var.inventory_expiry_days >= 1 && floor(var.inventory_expiry_days) == var.inventory_expiry_days
    error_message = "inventory_expiry_days must be a whole number >= 1."
  }
}

variable "submitter_function_arn" {
  description = "ARN of the submitter Lambda that inventory manifest.json arrivals invoke; required when enable_inventory (its invoke permission must exist first)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow destroy to empty the inventory bucket first."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "event_route" {
  description = <<-EOT
    How the images bucket's events reach the queue. "eventbridge" (default): an EventBridge rule for the
    bucket's Object Created / Object Deleted events; it leaves the bucket's notification configuration alone
    unless manage_bucket_eventbridge is true, so it is safe on a bucket that already has notifications.
    "notification": S3 event notifications to the queue; this REPLACES the bucket's whole notification
    configuration (S3 keeps one per bucket), removing any queue, topic or function it had.
  EOT
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["eventbridge", "notification"], var.event_route)
    error_message = "event_route must be \"eventbridge\" or \"notification\"."
  }
}

variable "manage_bucket_eventbridge" {
  description = "With event_route = \"eventbridge\": let Terraform turn on the bucket's EventBridge delivery. That writes the bucket's notification configuration and REPLACES what it held; leave false on a shared bucket and turn delivery on with `python -m lambda_submitter eventbridge --bucket B` (keeps every existing notification) or the console."
  type        = bool
  default     = false
}

variable "inventory_format" {
  description = "Format of the S3 Inventory report: CSV (the submitter reads it and submits exact manifests), ORC or Parquet (the submitter Lambda has no pyarrow, so the Batch children read the report themselves)."
  type        = string
  default     = "CSV"

  validation {
    condition     = contains(["CSV", "ORC", "Parquet"], var.inventory_format)
    error_message = "inventory_format must be CSV, ORC or Parquet."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the queues and the inventory bucket; null: SQS-managed keys and SSE-S3. Its key policy must let s3.amazonaws.com and events.amazonaws.com use it (they write the queue)."
  type        = string
  default     = null
}
