# --- Required -----------------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy into (the images bucket's region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "images_bucket_name" {
  description = "Existing bucket whose images are indexed (bucketlens takes over its event notifications)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.images_bucket_name))
    error_message = "images_bucket_name must be a valid S3 bucket name."
  }
}

variable "subnet_ids" {
  description = "Subnets for the Batch workers; they need a route to S3, DynamoDB, Rekognition and ECR (NAT or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups for the Batch workers (outbound HTTPS is all they need)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "Give at least one security group."
  }
}

# --- Common -------------------------------------------------------------------------------------

variable "name" {
  description = "Name prefix of every resource: 1-26 lower-case letters, digits and single '-', starting with a letter and ending with a letter or digit; at most 21 with enable_search."
  type        = string
  default     = "bucketlens"

  # The tightest derived names: S3 bucket_prefix "<name>-manifests-" and "<name>-inventory-" (37 characters
  # at most), IAM role name_prefix "<name>-batch-exec-" (38 at most), the ECR repository "<name>" (no "--",
  # no leading or trailing '-'); with search, the OpenSearch domain "<name>-search" (28 at most, starting
  # with a letter), checked by the search module.
  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,24}[a-z0-9])?$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 1-26 lower-case letters, digits and single '-', starting with a letter and ending with a letter or digit (S3 bucket and IAM role name prefixes are derived from it)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "source_dir" {
  description = "Repository root with lambda_submitter/ and job/; null means the parent of this module."
  type        = string
  default     = null
}

# --- Batch --------------------------------------------------------------------------------------

variable "compute_type" {
  description = "Worker capacity: EC2 (on-demand), SPOT, FARGATE or FARGATE_SPOT."
  type        = string
  default     = "SPOT"

  validation {
    condition     = contains(["EC2", "SPOT", "FARGATE", "FARGATE_SPOT"], var.compute_type)
    error_message = "compute_type must be one of EC2, SPOT, FARGATE, FARGATE_SPOT."
  }
}

variable "max_vcpus" {
  description = "Most vCPUs the workers may use at once."
  type        = number
  default     = 64

  validation {
    condition     = var.max_vcpus >= 1 && var.max_vcpus <= 4096 && floor(var.max_vcpus) == var.max_vcpus
    error_message = "max_vcpus must be a whole number between 1 and 4096."
  }
}

variable "instance_types" {
  description = "Instance types or families for EC2/SPOT."
  type        = list(string)
  default     = ["optimal"]
}

variable "assign_public_ip" {
  description = "Give Fargate workers a public IP (public subnets without NAT)."
  type        = bool
  default     = false
}

variable "job_vcpu" {
  description = "vCPUs per array child."
  type        = number
  default     = 1

  validation {
    condition     = var.job_vcpu >= 0.25 && var.job_vcpu <= 192
    error_message = "job_vcpu must be between 0.25 and 192."
  }
}

variable "job_memory" {
  description = "Memory per array child, MiB."
  type        = number
  default     = 2048

  validation {
    condition     = var.job_memory >= 512
    error_message = "job_memory must be at least 512."
  }
}

variable "retry_attempts" {
  description = "Attempts per array child (transient exits and Spot reclaims retry)."
  type        = number
  default     = 3

  validation {
    condition     = var.retry_attempts >= 1 && var.retry_attempts <= 10
    error_message = "retry_attempts must be between 1 and 10."
  }
}

variable "job_timeout_seconds" {
  description = "Maximum duration of one attempt of one array child."
  type        = number
  default     = 14400

  validation {
    condition     = var.job_timeout_seconds >= 60
    error_message = "job_timeout_seconds must be at least 60."
  }
}

variable "image_tag" {
  description = "Tag of the worker image in the ECR repository (push it before the first job runs; a new tag needs a new apply)."
  type        = string
  default     = "0.1.0"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "image_tag_mutability" {
  description = "IMMUTABLE pins each tag to one image, so a job definition revision always runs the same code."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

# --- What the workers do ------------------------------------------------------------------------

variable "features" {
  description = "Rekognition features: comma-separated subset of labels,text,custom-labels."
  type        = string
  default     = "labels"

  validation {
    condition     = alltrue([for f in split(",", var.features) : contains(["labels", "text", "custom-labels"], f)])
    error_message = "features must be a comma-separated subset of labels,text,custom-labels."
  }
}

variable "labeler" {
  description = "Who labels the images: rekognition (Amazon Rekognition, the default), onnx (your own ONNX image classifier, model_uri) or clip (embedding_model.prompts_uri's prompts compared with each image's embedding: no Rekognition call)."
  type        = string
  default     = "rekognition"

  validation {
    condition     = contains(["rekognition", "onnx", "clip"], var.labeler)
    error_message = "labeler must be rekognition, onnx or clip."
  }
}

variable "model_uri" {
  description = "labeler = onnx: s3://bucket/key of the ONNX image classifier (input N x 3 x H x W floats). The workers may read it."
  type        = string
  default     = null

  validation {
    condition     = var.model_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", var.model_uri))
    error_message = "model_uri must be s3://bucket/key."
  }
}

variable "model_labels_uri" {
  description = "labeler = onnx: s3://bucket/key of the class names by output index: a JSON list or {index: name} (.json), or one name a line (.txt)."
  type        = string
  default     = null

  validation {
    condition     = var.model_labels_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", var.model_labels_uri))
    error_message = "model_labels_uri must be s3://bucket/key."
  }
}

variable "embedding_model" {
  description = "Your CLIP-style embedding model, so images can be found by meaning: s3://bucket/key of its image encoder (N x 3 x H x W floats -> N x D), text encoder (N x L token ids -> N x D) and tokenizer.json; optionally prompts_uri (the prompt list of labeler = clip and of make relabel) and the image transform, size (224) and mean and std (R,G,B; CLIP's by default, 0.5,0.5,0.5 for SigLIP). Each image's vector goes to the S3 Vectors bucket <name>-vectors, which the first job creates. null: no embeddings. The fast path embeds too: the submitter's zip then carries onnxruntime (about 195 MB unzipped); raise submitter_memory_mb for a model larger than ViT-B/32."
  type = object({
    image_uri     = string
    text_uri      = string
    tokenizer_uri = string
    prompts_uri   = optional(string)
    size          = optional(number)
    mean          = optional(string)
    std           = optional(string)
  })
  default = null

  validation {
    condition = alltrue([
      for uri in(var.embedding_model == null ? [] : [
        var.embedding_model.image_uri, var.embedding_model.text_uri, var.embedding_model.tokenizer_uri,
        coalesce(var.embedding_model.prompts_uri, "s3://prompts-not-given/-"),
      ]) : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", uri))
    ])
    error_message = "embedding_model's image_uri, text_uri, tokenizer_uri and prompts_uri must each be s3://bucket/key."
  }

  validation {
    condition = alltrue([
      for triple in(var.embedding_model == null ? [] : compact([var.embedding_model.mean, var.embedding_model.std])) :
      can(regex("^[0-9.]+,[0-9.]+,[0-9.]+$", triple))
    ])
    error_message = "embedding_model's mean and std are three numbers R,G,B, e.g. 0.5,0.5,0.5."
  }
}

variable "model_settings" {
  description = "labeler = onnx: the model's preprocessing and what is kept, as BUCKETLENS_MODEL_* reads them: size (224), mean and std (R,G,B; ImageNet's), top_k (5), min_confidence (percent, 1), batch (16)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.model_settings) : contains(["size", "mean", "std", "top_k", "min_confidence", "batch"], k)])
    error_message = "model_settings keys must be among size, mean, std, top_k, min_confidence, batch."
  }
}

variable "gpu" {
  description = "labeler = onnx: run the jobs on NVIDIA GPUs (g4dn or g5, the ECS GPU-optimised AMI) instead of the CPU compute environment. Needs the image's gpu variant: make build push GPU=1."
  type        = bool
  default     = false
}

variable "gpu_compute_type" {
  description = "GPU capacity: SPOT (the default) or EC2 (on-demand)."
  type        = string
  default     = "SPOT"

  validation {
    condition     = contains(["EC2", "SPOT"], var.gpu_compute_type)
    error_message = "gpu_compute_type must be EC2 or SPOT (Fargate has no GPUs)."
  }
}

variable "gpu_instance_types" {
  description = "GPU instance types or families (g4dn: NVIDIA T4; g5: A10G)."
  type        = list(string)
  default     = ["g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g5.2xlarge"]
}

variable "gpu_max_vcpus" {
  description = "Most vCPUs the GPU instances may have at once (a g4dn.xlarge has 4 and one GPU)."
  type        = number
  default     = 16
}

variable "min_confidence" {
  description = "Minimum label confidence (0-100) that is stored."
  type        = number
  default     = 70

  validation {
    condition     = var.min_confidence >= 0 && var.min_confidence <= 100
    error_message = "min_confidence must be between 0 and 100."
  }
}

variable "max_labels" {
  description = "Most labels stored per image."
  type        = number
  default     = 50

  validation {
    condition     = var.max_labels >= 1 && var.max_labels <= 1000
    error_message = "max_labels must be between 1 and 1000."
  }
}

variable "workers" {
  description = "Threads per array child; null (default) lets each child size them to the rate it may reach (rate x 0.5 s, 4..64)."
  type        = number
  default     = null

  validation {
    condition     = var.workers == null || try(var.workers >= 1 && var.workers <= 256, false)
    error_message = "workers must be null or between 1 and 256."
  }
}

variable "max_tps_per_child" {
  description = "Optional cap on one child's Rekognition calls per second per operation; null (default): the shared quota alone decides."
  type        = number
  default     = null

  validation {
    condition     = var.max_tps_per_child == null || try(var.max_tps_per_child > 0, false)
    error_message = "max_tps_per_child must be null or positive."
  }
}

variable "rekognition_tps_quota" {
  description = "The account's Rekognition transactions-per-second quota per operation (DetectLabels, DetectText) in this region, used where the submitter cannot read it from Service Quotas (it reads the applied value, else AWS's regional default, and logs which). Every child of every job and the fast path share it through the limiter table, whatever their number."
  type        = number
  default     = 50

  validation {
    condition     = var.rekognition_tps_quota > 0
    error_message = "rekognition_tps_quota must be positive."
  }
}

variable "project_version_arn" {
  description = "Rekognition Custom Labels project version ARN (needed for the custom-labels feature)."
  type        = string
  default     = null

  validation {
    condition     = var.project_version_arn == null || can(regex("^arn:aws[a-z-]*:rekognition:", var.project_version_arn))
    error_message = "project_version_arn must be a Rekognition project version ARN."
  }
}

variable "extensions" {
  description = "Image extensions (lower case, no dot) that are indexed and whose events are routed."
  type        = list(string)
  default     = ["jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif", "avif"]

  validation {
    condition     = length(var.extensions) > 0 && alltrue([for e in var.extensions : can(regex("^[a-z0-9]+$", e))])
    error_message = "extensions must be lower-case extensions without the dot."
  }
}

# --- Storage ------------------------------------------------------------------------------------

variable "table_name" {
  description = "Results table name (default <name>-results, so two stacks with different names share an account)."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the results table from deletion."
  type        = bool
  default     = true
}

variable "manifests_expiry_days" {
  description = "Days after which manifests and run summaries expire."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Let destroy empty the buckets and the ECR repository (for test deployments)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps worker and submitter logs."
  type        = number
  default     = 30
}

# --- Triggers and submitter ---------------------------------------------------------------------

variable "enable_inventory" {
  description = "Configure S3 Inventory on the images bucket; each report's manifest.json starts a backfill."
  type        = bool
  default     = true
}

variable "inventory_frequency" {
  description = "Daily or Weekly S3 Inventory reports."
  type        = string
  default     = "Weekly"

  validation {
    condition     = contains(["Daily", "Weekly"], var.inventory_frequency)
    error_message = "inventory_frequency must be Daily or Weekly."
  }
}

variable "shard_size" {
  description = "Objects per manifest shard, i.e. per Batch array child."
  type        = number
  default     = 1000

  validation {
    condition     = var.shard_size >= 1 && floor(var.shard_size) == var.shard_size
    error_message = "shard_size must be a whole number >= 1."
  }
}

variable "submitter_timeout_seconds" {
  description = "Submitter Lambda timeout: 300 s streams an inventory of about 20 million rows (the events queue's visibility timeout is six times this)."
  type        = number
  default     = 300

  validation {
    condition     = var.submitter_timeout_seconds >= 1 && var.submitter_timeout_seconds <= 900
    error_message = "submitter_timeout_seconds must be between 1 and 900."
  }
}

variable "submitter_batching_window_seconds" {
  description = "How long events gather before one submitter invocation: a lone upload waits this long before it is labelled."
  type        = number
  default     = 1

  validation {
    condition     = var.submitter_batching_window_seconds >= 0 && var.submitter_batching_window_seconds <= 300
    error_message = "submitter_batching_window_seconds must be between 0 and 300."
  }
}

variable "submitter_batch_size" {
  description = "Most events per submitter invocation. Batches of up to fast_path_images images are labelled in the Lambda; bigger ones (a bulk upload) become Batch jobs. Above 10 AWS needs a batching window of at least 1 s."
  type        = number
  default     = 100

  validation {
    condition     = var.submitter_batch_size >= 1 && var.submitter_batch_size <= 10000 && floor(var.submitter_batch_size) == var.submitter_batch_size
    error_message = "submitter_batch_size must be a whole number from 1 to 10000 (AWS's limit for a standard queue)."
  }
}

variable "fast_path_images" {
  description = "The fast path: an event batch of at most this many images is labelled inside the submitter Lambda within seconds, instead of waiting for a Batch job (minutes from a compute environment at 0 vCPU). 0 turns it off. Off with enable_search (the domain is in the VPC)."
  type        = number
  default     = 20

  validation {
    condition     = var.fast_path_images >= 0 && var.fast_path_images <= 100 && floor(var.fast_path_images) == var.fast_path_images
    error_message = "fast_path_images must be a whole number from 0 to 100."
  }
}

variable "submitter_memory_mb" {
  description = "Submitter Lambda memory in MiB; it also buys CPU. The fast path decodes camera-sized images (a 24 MP photo is 72 MB once decoded), two at a time."
  type        = number
  default     = 2048

  validation {
    condition     = var.submitter_memory_mb >= 512 && var.submitter_memory_mb <= 10240 && floor(var.submitter_memory_mb) == var.submitter_memory_mb
    error_message = "submitter_memory_mb must be a whole number from 512 to 10240 (new accounts may be held to 3008 until Lambda raises their quota)."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the submitter and scheduler Lambdas (arm64: Graviton, cheaper per GB-second); the zip's wheels are downloaded for it."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "submitter_log_level" {
  description = "Log level of the submitter Lambda (BUCKETLENS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.submitter_log_level)
    error_message = "submitter_log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "python" {
  description = "Python interpreter that builds the Lambda zip during apply (standard library only)."
  type        = string
  default     = "python3"
}

variable "queue_retention_seconds" {
  description = "How long an event waits in the SQS queue (at least 4 days with a Custom Labels schedule, so a weekend's uploads wait for Monday)."
  type        = number
  default     = 345600

  validation {
    condition     = var.queue_retention_seconds >= 60 && var.queue_retention_seconds <= 1209600
    error_message = "queue_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "event_patience_hours" {
  description = "How long an upload the fast path could not label (Rekognition throttled, DynamoDB unavailable) is retried before it goes to the dead-letter queue; the queue's maxReceiveCount is derived from it (6 hours: 29 deliveries)."
  type        = number
  default     = 6

  validation {
    condition     = var.event_patience_hours >= 1 && var.event_patience_hours <= 240
    error_message = "event_patience_hours must be between 1 and 240 (past about 10 days maxReceiveCount would exceed SQS's 1000)."
  }
}

variable "max_receive_count" {
  description = "Deliveries before an event goes to the dead-letter queue; null (the default) derives it from event_patience_hours (and, with enable_schedule, from the retention)."
  type        = number
  default     = null

  validation {
    condition     = var.max_receive_count == null || (coalesce(var.max_receive_count, 1) >= 1 && coalesce(var.max_receive_count, 1) <= 1000)
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "enable_schedule" {
  description = "Run the Custom Labels model only between schedule_start and schedule_stop (needs project_version_arn and custom-labels in features)."
  type        = bool
  default     = false

  validation {
    condition     = !var.enable_schedule || (var.project_version_arn != null && contains(split(",", var.features), "custom-labels"))
    error_message = "enable_schedule needs project_version_arn and custom-labels in features."
  }
}

variable "schedule_start" {
  description = "EventBridge Scheduler expression that starts the model (in schedule_timezone); it may take up to 30 minutes to run."
  type        = string
  default     = "cron(30 7 ? * MON-FRI *)"
}

variable "schedule_stop" {
  description = "EventBridge Scheduler expression that drains and stops the model (in schedule_timezone)."
  type        = string
  default     = "cron(0 19 ? * MON-FRI *)"
}

variable "schedule_timezone" {
  description = "IANA time zone of schedule_start and schedule_stop."
  type        = string
  default     = "UTC"
}

variable "min_inference_units" {
  description = "Inference units the scheduled model starts with (each billed per running hour)."
  type        = number
  default     = 1
}

variable "max_inference_units" {
  description = "Upper bound for the model's inference-unit auto-scaling; null keeps min_inference_units."
  type        = number
  default     = null
}

variable "schedule_drain_minutes" {
  description = "How long a scheduled stop waits for running custom-label jobs before stopping the model anyway."
  type        = number
  default     = 60
}

variable "enable_search" {
  description = "Index every result in OpenSearch too: a new Amazon OpenSearch Service domain in the VPC, or search_existing_endpoint."
  type        = bool
  default     = false
}

variable "submitter_in_vpc" {
  description = "Run the submitter Lambda in subnet_ids (with a security group of its own). null: exactly when bucketlens creates the VPC-only search domain (its deletes must reach it); true also for an existing VPC-only cluster."
  type        = bool
  default     = null
}

variable "vpc_endpoint_route_table_ids" {
  description = "Route tables of subnet_ids: S3 and DynamoDB gateway endpoints (free) are added to them. Empty: none (the subnets have NAT, or endpoints already)."
  type        = list(string)
  default     = []
}

variable "vpc_interface_endpoints" {
  description = "Interface endpoints to create in subnet_ids (billed per hour and zone), beyond those vpc_without_nat adds, e.g. [\"sts\"]; see docs/deployment.md, subnets without NAT."
  type        = list(string)
  default     = []
}

variable "vpc_without_nat" {
  description = "The subnets have no NAT gateway: create every VPC endpoint the deployment needs (S3 and DynamoDB gateways on vpc_endpoint_route_table_ids; ECR, CloudWatch Logs, Rekognition, the ECS agent's ecs, ecs-agent and ecs-telemetry for EC2/SPOT/GPU, and the submitter's when it is in the VPC), added to vpc_interface_endpoints."
  type        = bool
  default     = false
}

variable "instance_metadata_hop_limit" {
  description = "IMDSv2 hop limit of the EC2/SPOT/GPU instances (their launch template requires IMDSv2). 1, the default, keeps containers from reaching the instance role through IMDS; 2 lets them (opting out)."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2], var.instance_metadata_hop_limit)
    error_message = "instance_metadata_hop_limit must be 1 (containers cannot reach IMDS) or 2 (they can)."
  }
}

variable "search_existing_endpoint" {
  description = "https:// endpoint of an existing cluster to use instead of creating a domain."
  type        = string
  default     = null
}

variable "search_existing_domain_arn" {
  description = "ARN of that existing Amazon OpenSearch Service domain, for the roles' es:ESHttp* grants."
  type        = string
  default     = null
}

variable "search_index" {
  description = "OpenSearch index name."
  type        = string
  default     = "bucketlens"
}

variable "search_instance_type" {
  description = "Data node instance type of a created domain."
  type        = string
  default     = "t3.medium.search"
}

variable "search_instance_count" {
  description = "Data nodes of a created domain (two or more: zone awareness)."
  type        = number
  default     = 2
}

variable "search_master_user_arn" {
  description = "Fine-grained access control's master user of a created domain; null creates one: the role of a setup function that only Terraform invokes, which maps the workers, the submitter and search_reader_arns to their OpenSearch roles and turns audit logging on. With your own master user, run python -m job search-setup as it."
  type        = string
  default     = null
}

variable "search_reader_arns" {
  description = "IAM role ARNs of people and tools that run python -m job search against the domain: mapped to bucketlens_reader (read on the index). Their own policies need es:ESHttpPost on the domain."
  type        = list(string)
  default     = []
}

variable "search_secret_arn" {
  description = "For a self-managed cluster (search_existing_endpoint): a Secrets Manager secret with username and password; the worker then uses basic auth."
  type        = string
  default     = null
}

variable "event_route" {
  description = <<-EOT
    How the images bucket's uploads, deletes and lifecycle expirations reach the submitter.
    "eventbridge" (default, safe on a bucket that already has notifications): an EventBridge rule picks the
    bucket's Object Created / Object Deleted events off the default bus; the bucket's notification configuration
    is not touched unless manage_bucket_eventbridge = true. Turn the bucket's EventBridge delivery on once with
    `python -m lambda_submitter eventbridge --bucket <bucket>` (`make deploy` does it), which keeps every
    notification the bucket already has.
    "notification": S3 event notifications straight to the queue. This REPLACES the bucket's whole notification
    configuration (S3 keeps one per bucket): any queue, topic or function it already notified stops being notified.
  EOT
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["eventbridge", "notification"], var.event_route)
    error_message = "event_route must be \"eventbridge\" or \"notification\"."
  }
}

variable "manage_bucket_eventbridge" {
  description = "With event_route = \"eventbridge\", let Terraform switch the bucket's EventBridge delivery on itself. This writes the bucket's notification configuration and REPLACES what it held: only for a bucket that has no other notifications."
  type        = bool
  default     = false
}

variable "lambda_runtime" {
  description = "Python runtime of the submitter and scheduler Lambdas. Keep it on the container's minor (Dockerfile PYTHON_VERSION) so both run the code the tests ran; AWS blocks creating functions on python3.11 and older."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.12 or newer (python3.13 is the tested one)."
  }
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
  description = "Customer-managed KMS key for everything bucketlens stores: the results, label-index and limiter tables, the manifests and inventory buckets, the events queues, every log group, the Lambdas' environments, the schedules, ECR and OpenSearch. null: AWS-managed or AWS-owned keys. Its key policy must let the services use it (docs/deployment.md: Customer-managed key)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "search_create_service_linked_role" {
  description = "With enable_search: create the account's OpenSearch service-linked role (AWSServiceRoleForAmazonOpenSearchService), which a domain in a VPC needs. One per account: leave false where it exists, set true in an account that never had a VPC domain."
  type        = bool
  default     = false
}

# --- Alarms and the dashboard (modules/monitoring) ----------------------------------------------

variable "enable_alarms" {
  description = "Alarms on the queues, the submitter and the EMF metrics, a rule that reports FAILED Batch jobs, all to an SNS topic, and a CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "An SNS topic of yours for the alarms; null creates <name>-alarms (encrypted with kms_key_arn when given)."
  type        = string
  default     = null
}

variable "alarm_email" {
  description = "An address to subscribe to the created topic (AWS asks it to confirm first); null: none."
  type        = string
  default     = null
}

variable "alarm_queue_age_seconds" {
  description = "Alarm when the oldest event on the events queue has waited longer than this."
  type        = number
  default     = 3600
}

variable "alarm_throttle_share_percent" {
  description = "Alarm when more than this share of Rekognition calls is throttled for alarm_throttle_minutes."
  type        = number
  default     = 10
}

variable "alarm_throttle_minutes" {
  description = "How long the throttled share must last (a multiple of 5)."
  type        = number
  default     = 60
}

variable "alarm_errors_per_hour" {
  description = "Alarm when more images than this end as recorded errors in an hour."
  type        = number
  default     = 100
}
