variable "name" {
  description = "Name of the scheduler function; the schedules are named <name>-start, -stop and -poll."
  type        = string
  default     = "bucketlens-model-schedule"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,58}$", var.name))
    error_message = "name: 1-58 letters, digits, '-' or '_' (the schedule names add up to 6 characters)."
  }
}

variable "project_version_arn" {
  description = "The Rekognition Custom Labels model version to run on the schedule."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:rekognition:[a-z0-9-]+:[0-9]{12}:project/[^/]+/version/[^/]+/[0-9]+$", var.project_version_arn))
    error_message = "project_version_arn must be a Rekognition project version ARN (…:project/<name>/version/<version>/<timestamp>)."
  }
}

variable "event_source_mapping_uuid" {
  description = "UUID of the submitter's SQS event source mapping, switched on once the model runs and off before it stops."
  type        = string
}

variable "job_queue_arn" {
  description = "Batch job queue whose custom-label jobs a stop waits for."
  type        = string
}

variable "package" {
  description = "The submitter module's package output: the zip in S3 (it holds lambda_submitter.scheduler too)."
  type        = object({ bucket = string, key = string, version = string })
}

variable "package_hash" {
  description = "The submitter module's package_hash output, so the function is updated with the code."
  type        = string
}

variable "runtime" {
  description = "Lambda Python runtime."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.runtime))
    error_message = "runtime must be python3.12 or newer: AWS no longer lets new functions use python3.11 or older."
  }
}

variable "architecture" {
  description = "Instruction set of the function: the one the shared zip's wheels were downloaded for."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "start_schedule" {
  description = "When to start the model: an EventBridge Scheduler cron() expression, in `timezone`. Starting takes up to 30 minutes: start early."
  type        = string
  default     = "cron(30 7 ? * MON-FRI *)"

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.start_schedule))
    error_message = "start_schedule must be an EventBridge Scheduler expression such as cron(30 7 ? * MON-FRI *)."
  }
}

variable "stop_schedule" {
  description = "When to stop the model (after draining): an EventBridge Scheduler cron() expression, in `timezone`."
  type        = string
  default     = "cron(0 19 ? * MON-FRI *)"

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.stop_schedule))
    error_message = "stop_schedule must be an EventBridge Scheduler expression such as cron(0 19 ? * MON-FRI *)."
  }
}

variable "timezone" {
  description = "IANA time zone of the start and stop expressions, e.g. Europe/Berlin."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$", var.timezone))
    error_message = "timezone must be an IANA name such as UTC or America/New_York."
  }
}

variable "min_inference_units" {
  description = "Inference units the model starts with (each is billed per running hour)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_inference_units >= 1 && floor(var.min_inference_units) == var.min_inference_units
    error_message = "min_inference_units must be a whole number of at least 1."
  }
}

variable "max_inference_units" {
  description = "Upper bound for Rekognition's auto-scaling of inference units; null keeps min_inference_units."
  type        = number
  default     = null

  validation {
    condition     = var.max_inference_units == null || try(var.max_inference_units >= var.min_inference_units, false)
    error_message = "max_inference_units must be at least min_inference_units."
  }
}

variable "drain_minutes" {
  description = "How long a stop waits for running custom-label jobs before stopping the model anyway (those jobs exit 75 and retry)."
  type        = number
  default     = 60

  validation {
    condition     = var.drain_minutes >= 0 && var.drain_minutes <= 1440
    error_message = "drain_minutes must be between 0 and 1440."
  }
}

variable "log_retention_days" {
  description = "Retention of the scheduler function's log group."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the schedules and the function's environment; null uses AWS-owned and AWS-managed keys."
  type        = string
  default     = null
}
