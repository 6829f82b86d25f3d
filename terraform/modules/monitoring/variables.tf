variable "name" {
  description = "Prefix of the topic, alarms, rules and dashboard (the deployment's name)."
  type        = string
}

variable "deployment" {
  description = "The Deployment dimension of bucketlens' EMF metrics (BUCKETLENS_DEPLOYMENT)."
  type        = string
}

variable "topic_arn" {
  description = "An SNS topic of yours for the alarms and the failed-job rule; null creates one."
  type        = string
  default     = null
}

variable "email" {
  description = "With the created topic: an address subscribed to it (AWS asks it to confirm first)."
  type        = string
  default     = null

  validation {
    condition     = var.email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.email))
    error_message = "email must be an e-mail address."
  }
}

variable "queue_name" {
  description = "Name of the events queue."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "Name of its dead-letter queue."
  type        = string
}

variable "function_name" {
  description = "Name of the submitter Lambda."
  type        = string
}

variable "job_queue_arns" {
  description = "Every Batch job queue of the deployment (CPU, and GPU when deployed): their FAILED jobs are reported."
  type        = list(string)

  validation {
    condition     = length(var.job_queue_arns) > 0
    error_message = "job_queue_arns needs at least one queue."
  }
}

variable "log_resource_policy_ready" {
  description = "The name of the deployment's CloudWatch Logs resource policy, once it holds job_state_log_policy: the rule's log target waits for it."
  type        = string
  default     = null
}

variable "job_log_group_name" {
  description = "The workers' log group (named in the failed-job message)."
  type        = string
}

variable "queue_age_seconds" {
  description = "Alarm when the oldest event has waited longer than this."
  type        = number
  default     = 3600

  validation {
    condition     = var.queue_age_seconds >= 60
    error_message = "queue_age_seconds must be at least 60."
  }
}

variable "throttle_share_percent" {
  description = "Alarm when more than this share of Rekognition calls is throttled ..."
  type        = number
  default     = 10

  validation {
    condition     = var.throttle_share_percent > 0 && var.throttle_share_percent < 100
    error_message = "throttle_share_percent must be between 0 and 100."
  }
}

variable "throttle_minutes" {
  description = "... for this many minutes (a multiple of 5)."
  type        = number
  default     = 60

  validation {
    condition     = var.throttle_minutes >= 5 && var.throttle_minutes % 5 == 0 && var.throttle_minutes <= 1440
    error_message = "throttle_minutes must be a multiple of 5, from 5 to 1440."
  }
}

variable "errors_per_hour" {
  description = "Alarm when more images than this end as recorded errors in an hour."
  type        = number
  default     = 100

  validation {
    condition     = var.errors_per_hour >= 0
    error_message = "errors_per_hour must not be negative."
  }
}

variable "log_retention_days" {
  description = "Retention of the job state changes' log group."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer-managed key for the topic and the log group (null: the topic is not encrypted, the log group uses CloudWatch's own)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
