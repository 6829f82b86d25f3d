variable "name" {
  description = "Function name; also names its role and log group."
  type        = string
  default     = "bucketlens-submitter"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,56}$", var.name))
    error_message = "name must be 1-56 letters, digits, _ or -."
  }
}

variable "source_dir" {
  description = "Repository root holding lambda_submitter/ and job/ (the code that is zipped)."
  type        = string
}

variable "python" {
  description = "Python interpreter Terraform runs to build the zip (standard library only)."
  type        = string
  default     = "python3"
}

variable "runtime" {
  description = "Lambda runtime: the Python minor the container image uses too (Dockerfile PYTHON_VERSION)."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.runtime))
    error_message = "runtime must be python3.12 or newer: AWS no longer lets new functions use python3.11 or older."
  }
}

variable "memory_size" {
  description = "Lambda memory in MiB (also scales its CPU): the fast path decodes camera-sized images."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Lambda timeout; the events queue's visibility timeout must be at least six times this."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "architecture" {
  description = "Instruction set of the function; the zip's wheels are downloaded for it."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "fast_path" {
  description = "Whether the function labels small event batches itself (grants it the worker's calls)."
  type        = bool
  default     = true
}

variable "limiter_table_arn" {
  description = "The shared Rekognition quota's table (job/core/quota.py), used by the fast path."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment of the function (the BUCKETLENS_* settings the submitter reads)."
  type        = map(string)
}

variable "queue_arn" {
  description = "Events queue the function consumes."
  type        = string
}

variable "dead_letter_queue_arn" {
  description = "Where failed asynchronous invocations (inventory notifications) go."
  type        = string
}

variable "batch_size" {
  description = "Most events per invocation: a batch of up to the fast path's threshold of images is labelled in the function, a bigger one becomes a Batch job. Above 10, AWS requires batching_window_seconds >= 1."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "batching_window_seconds" {
  description = "How long the event source mapping gathers events before invoking; a lone upload waits this long before it is labelled."
  type        = number
  default     = 1

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be between 0 and 300."
  }
}

variable "max_concurrency" {
  description = "Most concurrent invocations the queue may drive (SQS event source maximum concurrency)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000
    error_message = "max_concurrency must be between 2 and 1000."
  }
}

variable "job_queue_arn" {
  description = "Batch job queue the function submits to."
  type        = string
}

variable "job_definition_arns" {
  description = "Batch job definition ARNs the function may submit (with and without revision)."
  type        = list(string)
}

variable "images_bucket_arn" {
  description = "Images bucket the function lists for backfills."
  type        = string
}

variable "manifests_bucket_arn" {
  description = "Bucket the function writes manifests to."
  type        = string
}

variable "manifests_prefix" {
  description = "Key prefix of manifests in the manifests bucket."
  type        = string
  default     = "manifests"
}

variable "inventory_bucket_arn" {
  description = "Bucket whose S3 Inventory manifest.json arrivals invoke the function; null when inventory is off."
  type        = string
  default     = null
}

variable "enable_inventory" {
  description = "Whether inventory_bucket_arn is set (a plan-time flag, since the ARN is only known after apply)."
  type        = bool
  default     = true
}

variable "table_arn" {
  description = "Results table the function reads and writes (deletion tombstones)."
  type        = string
}

variable "log_retention_days" {
  description = "Days the function's logs are kept."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group; null uses CloudWatch's default encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "enabled" {
  description = "Initial state of the queue-to-function mapping; a Custom Labels schedule (modules/schedule) switches it afterwards."
  type        = bool
  default     = true
}

variable "project_version_arn" {
  description = "Custom Labels model whose status the submitter checks before submitting custom-label work; null when not used."
  type        = string
  default     = null
}

variable "label_table_arn" {
  description = "ARN of the label index table (results module output label_table_arn)."
  type        = string
}

variable "search_domain_arn" {
  description = "OpenSearch Service domain ARN (search module); null when search is off or self-managed."
  type        = string
  default     = null
}

variable "package_bucket" {
  description = "Bucket that keeps the deployed zip (the manifests bucket), so that an apply from any machine can replace the function without a local build."
  type        = string
}

variable "package_prefix" {
  description = "Key prefix of the zip in package_bucket; outside the prefixes the bucket's lifecycle expires."
  type        = string
  default     = "lambda"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key: encrypts the function's environment, and the role may use it for the queue, the manifests and the inventory reports (SQS and S3 SSE-KMS). null: AWS-managed keys."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Run the function in these subnets (to reach a VPC-only search domain); empty: outside any VPC. They need a route to AWS's APIs: NAT or VPC endpoints."
  type        = list(string)
  default     = []
}

variable "vector_bucket_arn" {
  description = "ARN of the S3 Vectors bucket of the image embeddings: a delete removes the image's vector from each index. null: no embeddings."
  type        = string
  default     = null
}

variable "with_models" {
  description = "Whether the fast path runs the user's ONNX models (labeler onnx or clip, or an embedding model): the zip then carries onnxruntime, numpy and tokenizers (lambda_submitter/requirements-models.txt)."
  type        = bool
  default     = false
}

variable "model_object_arns" {
  description = "S3 object ARNs of the models and files the fast path loads (the onnx labeler's model and classes, the embedding model's three files, the prompt list). Empty: none."
  type        = list(string)
  default     = []
}

variable "uses_rekognition" {
  description = "Whether the fast path calls Rekognition (labeler = rekognition); the user's own labelers do not."
  type        = bool
  default     = true
}
