variable "name" {
  description = "Name prefix for the compute environment, queue, job definition, roles and log group."
  type        = string
  default     = "bucketlens"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,50}$", var.name))
    error_message = "name must be 1-50 letters, digits, _ or -."
  }
}

variable "compute_type" {
  description = "Capacity for the workers: EC2 (on-demand), SPOT, FARGATE or FARGATE_SPOT."
  type        = string
  default     = "SPOT"

  validation {
    condition     = contains(["EC2", "SPOT", "FARGATE", "FARGATE_SPOT"], var.compute_type)
    error_message = "compute_type must be one of EC2, SPOT, FARGATE, FARGATE_SPOT."
  }
}

variable "min_vcpus" {
  description = "vCPUs kept running when idle (EC2/SPOT only); 0 scales to nothing between runs."
  type        = number
  default     = 0

  validation {
    condition     = var.min_vcpus >= 0 && floor(var.min_vcpus) == var.min_vcpus
    error_message = "min_vcpus must be a whole number >= 0."
  }
}

variable "max_vcpus" {
  description = "Upper bound of vCPUs the compute environment may run at once (caps cost and Rekognition load)."
  type        = number
  default     = 64

  validation {
    condition     = var.max_vcpus >= 1 && var.max_vcpus <= 4096 && floor(var.max_vcpus) == var.max_vcpus
    error_message = "max_vcpus must be a whole number between 1 and 4096."
  }
}

variable "instance_types" {
  description = "EC2 instance types or families for EC2/SPOT; \"optimal\" lets Batch choose."
  type        = list(string)
  default     = ["optimal"]

  validation {
    condition     = length(var.instance_types) > 0
    error_message = "instance_types must not be empty."
  }
}

variable "spot_bid_percentage" {
  description = "Maximum Spot price as a percentage of on-demand (SPOT only)."
  type        = number
  default     = 100

  validation {
    condition     = var.spot_bid_percentage >= 1 && var.spot_bid_percentage <= 100
    error_message = "spot_bid_percentage must be between 1 and 100."
  }
}

variable "subnet_ids" {
  description = "VPC subnets the workers run in (they need a route to S3, DynamoDB, Rekognition and ECR)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be a non-empty list of subnet IDs (subnet-...)."
  }
}

variable "security_group_ids" {
  description = "Security groups for the workers (egress to HTTPS is all they need)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must be a non-empty list of security group IDs (sg-...)."
  }
}

variable "assign_public_ip" {
  description = "Give Fargate tasks a public IP (needed in public subnets without a NAT gateway)."
  type        = bool
  default     = false
}

variable "image" {
  description = "Worker container image (repository URL and tag)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository the execution role may pull the image from."
  type        = string
}

variable "job_vcpu" {
  description = "vCPUs per array child (Fargate accepts 0.25, 0.5, 1, 2, 4, 8, 16)."
  type        = number
  default     = 1

  validation {
    condition     = var.job_vcpu >= 0.25 && var.job_vcpu <= 192
    error_message = "job_vcpu must be between 0.25 and 192."
  }
}

variable "job_memory" {
  description = "Memory per array child in MiB (Fargate requires a size valid for the vCPU count)."
  type        = number
  default     = 2048

  validation {
    condition     = var.job_memory >= 512 && floor(var.job_memory) == var.job_memory
    error_message = "job_memory must be a whole number of MiB >= 512."
  }
}

variable "job_parameters" {
  description = "Defaults for the job definition's Ref:: parameters (source, shards, shard_offset, features); submitters override them."
  type        = map(string)

  validation {
    condition     = alltrue([for k in ["source", "shards", "shard_offset", "features"] : contains(keys(var.job_parameters), k)])
    error_message = "job_parameters must define source, shards, shard_offset and features."
  }
}

variable "environment" {
  description = "Environment of every array child (BUCKETLENS_* options and AWS SDK settings)."
  type        = map(string)
  default     = {}
}

variable "retry_attempts" {
  description = "Attempts per array child; transient failures (exit 75, Spot reclaim) retry, configuration errors (exit 78) do not."
  type        = number
  default     = 3

  validation {
    condition     = var.retry_attempts >= 1 && var.retry_attempts <= 10 && floor(var.retry_attempts) == var.retry_attempts
    error_message = "retry_attempts must be a whole number between 1 and 10."
  }
}

variable "transient_exit_code" {
  description = "Worker exit code that means 'retry me' (job.errors.EXIT_TRANSIENT)."
  type        = number
  default     = 75
}

variable "config_exit_code" {
  description = "Worker exit code that means 'retrying cannot help' (job.errors.EXIT_CONFIG)."
  type        = number
  default     = 78
}

variable "timeout_seconds" {
  description = "Maximum duration of one attempt of one array child."
  type        = number
  default     = 14400

  validation {
    condition     = var.timeout_seconds >= 60
    error_message = "timeout_seconds must be at least 60 (Batch's minimum)."
  }
}

variable "log_retention_days" {
  description = "Days the workers' CloudWatch logs are kept."
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

variable "images_bucket_arn" {
  description = "Images bucket the workers read (objects and listings)."
  type        = string
}

variable "manifests_bucket_arn" {
  description = "Bucket holding manifests (read) and run summaries (written)."
  type        = string
}

variable "manifests_prefix" {
  description = "Key prefix of manifests in the manifests bucket."
  type        = string
  default     = "manifests"
}

variable "runs_prefix" {
  description = "Key prefix of run summaries in the manifests bucket."
  type        = string
  default     = "runs"
}

variable "inventory_bucket_arn" {
  description = "Bucket with S3 Inventory reports the workers may read as a source; null when inventory is off."
  type        = string
  default     = null
}

variable "table_arn" {
  description = "Results table the workers write."
  type        = string
}

variable "project_version_arn" {
  description = "Rekognition Custom Labels project version the workers may call; null grants no DetectCustomLabels."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
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

variable "search_secret_arn" {
  description = "Secrets Manager secret with the self-managed OpenSearch cluster's username and password (basic auth); null for SigV4."
  type        = string
  default     = null
}

variable "limiter_table_arn" {
  description = "ARN of the shared Rekognition quota's table (results module output limiter_table_arn)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key of the manifests and inventory buckets: the job role may decrypt and generate data keys with it (S3 SSE-KMS). null: no KMS permission."
  type        = string
  default     = null
}

variable "model_object_arns" {
  description = "S3 object ARNs of the onnx labeler's model and labels file: the job role may read them. Empty: none."
  type        = list(string)
  default     = []
}

variable "embedding_object_arns" {
  description = "S3 object ARNs of the embedding model's image encoder, text encoder and tokenizer.json: the job role may read them. Empty: none."
  type        = list(string)
  default     = []
}

variable "vector_bucket_arn" {
  description = "ARN of the S3 Vectors bucket the jobs store image vectors in (they create it and the model's index where missing). null: no embeddings."
  type        = string
  default     = null
}

variable "instance_metadata_hop_limit" {
  description = "IMDSv2 hop limit of the EC2/SPOT/GPU instances' launch template: 1 keeps containers (one hop further) from the instance role; 2 lets them reach it."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2], var.instance_metadata_hop_limit)
    error_message = "instance_metadata_hop_limit must be 1 or 2."
  }
}

variable "gpu" {
  description = "Also create a GPU compute environment, job queue and job definition (GPU=1) for the onnx labeler."
  type        = bool
  default     = false
}

variable "gpu_image" {
  description = "Image of the GPU job definition (the Dockerfile's gpu target, onnxruntime-gpu). Needed when gpu is true."
  type        = string
  default     = null
}

variable "gpu_compute_type" {
  description = "Capacity of the GPU compute environment: EC2 (on-demand) or SPOT."
  type        = string
  default     = "SPOT"

  validation {
    condition     = contains(["EC2", "SPOT"], var.gpu_compute_type)
    error_message = "gpu_compute_type must be EC2 or SPOT (Fargate has no GPUs)."
  }
}

variable "gpu_instance_types" {
  description = "GPU instance types or families: NVIDIA T4 (g4dn) or A10G (g5), which the AL2023 NVIDIA AMI drives."
  type        = list(string)
  default     = ["g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g5.2xlarge"]

  validation {
    condition     = length(var.gpu_instance_types) > 0 && alltrue([for t in var.gpu_instance_types : can(regex("^(g4dn|g5)(\\.[0-9]*x?large|\\.metal)?$", t))])
    error_message = "gpu_instance_types must be g4dn or g5 types or families, e.g. g4dn.xlarge, g5."
  }
}

variable "gpu_max_vcpus" {
  description = "Most vCPUs the GPU compute environment may run at once (a g4dn.xlarge has 4 and one GPU)."
  type        = number
  default     = 16

  validation {
    condition     = var.gpu_max_vcpus >= 4
    error_message = "gpu_max_vcpus must be at least 4: the smallest g4dn and g5 instances have 4 vCPUs."
  }
}

variable "gpu_job_vcpu" {
  description = "vCPUs per GPU child: they download and decode while the GPU runs the batches."
  type        = number
  default     = 4

  validation {
    condition     = var.gpu_job_vcpu >= 1
    error_message = "gpu_job_vcpu must be at least 1."
  }
}

variable "gpu_job_memory" {
  description = "Memory per GPU child, MiB; a g4dn.xlarge has 16 GiB, of which ECS keeps a little."
  type        = number
  default     = 14336

  validation {
    condition     = var.gpu_job_memory >= 2048
    error_message = "gpu_job_memory must be at least 2048."
  }
}
