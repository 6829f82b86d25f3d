provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { Project = "bucketlens" })
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  source_dir = coalesce(var.source_dir, abspath("${path.module}/.."))
  extensions = join(",", var.extensions)

  worker_environment = merge(
    {
      BUCKETLENS_TABLE          = module.results.table_name
      BUCKETLENS_LABEL_TABLE    = module.results.label_table_name
      BUCKETLENS_RESULTS_URI    = module.manifests.runs_uri
      BUCKETLENS_TPS_QUOTA      = tostring(var.rekognition_tps_quota) # shared by every child: job/core/quota.py
      BUCKETLENS_LIMITER_TABLE  = module.results.limiter_table_name
      BUCKETLENS_MIN_CONFIDENCE = tostring(var.min_confidence)
      BUCKETLENS_MAX_LABELS     = tostring(var.max_labels)
      BUCKETLENS_EXTENSIONS     = local.extensions
      AWS_RETRY_MODE            = "adaptive"
      AWS_DEFAULT_REGION        = var.region
      BUCKETLENS_DEPLOYMENT     = var.name # the Deployment dimension of the EMF metrics
    },
    var.project_version_arn == null ? {} : { BUCKETLENS_PROJECT_VERSION_ARN = var.project_version_arn },
    var.max_tps_per_child == null ? {} : { BUCKETLENS_MAX_TPS = tostring(var.max_tps_per_child) },
    var.workers == null ? {} : { BUCKETLENS_WORKERS = tostring(var.workers) },
    local.labeler_environment,
    local.search_environment,
    local.search_auth_environment,
    local.embedding_environment,
  )

  # the user's embedding model (job/worker/embeddings.py) and the vector bucket its vectors go to
  embeds        = var.embedding_model != null
  vector_bucket = "${var.name}-vectors"
  vector_bucket_arn = local.embeds ? (
    "arn:${data.aws_partition.current.partition}:s3vectors:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:bucket/${local.vector_bucket}"
  ) : null
  embedding_environment = local.embeds ? { for k, v in {
    BUCKETLENS_EMBED_IMAGE_URI     = var.embedding_model.image_uri
    BUCKETLENS_EMBED_TEXT_URI      = var.embedding_model.text_uri
    BUCKETLENS_EMBED_TOKENIZER_URI = var.embedding_model.tokenizer_uri
    BUCKETLENS_VECTOR_BUCKET       = local.vector_bucket
    BUCKETLENS_VECTOR_KMS_KEY_ARN  = var.kms_key_arn # the first job creates the vector bucket with it
    BUCKETLENS_PROMPTS_URI         = var.embedding_model.prompts_uri
    BUCKETLENS_EMBED_SIZE          = var.embedding_model.size == null ? null : tostring(var.embedding_model.size)
    BUCKETLENS_EMBED_MEAN          = var.embedding_model.mean
    BUCKETLENS_EMBED_STD           = var.embedding_model.std
  } : k => v if v != null } : {}
  # the model's files and the prompt list the jobs read (labeler = clip, relabel)
  embedding_object_arns = local.embeds ? [
    for uri in compact([
      var.embedding_model.image_uri, var.embedding_model.text_uri, var.embedding_model.tokenizer_uri,
      var.embedding_model.prompts_uri,
    ]) : "arn:${data.aws_partition.current.partition}:s3:::${trimprefix(uri, "s3://")}"
  ] : []

  onnx = var.labeler == "onnx"
  # the onnx labeler's model, its classes and settings (job/worker/config.py reads BUCKETLENS_MODEL_*)
  labeler_environment = merge(
    { BUCKETLENS_LABELER = var.labeler },
    local.onnx ? {
      for k, v in { BUCKETLENS_MODEL_URI = var.model_uri, BUCKETLENS_MODEL_LABELS_URI = var.model_labels_uri } : k => v if v != null
    } : {},
    local.onnx ? { for k, v in var.model_settings : "BUCKETLENS_MODEL_${upper(k)}" => v } : {},
  )
  model_object_arns = local.onnx ? [
    for uri in compact([var.model_uri, var.model_labels_uri]) :
    "arn:${data.aws_partition.current.partition}:s3:::${trimprefix(uri, "s3://")}"
  ] : []
  # where jobs go: the GPU queue and job definition when the onnx labeler runs on GPUs
  job_queue_arn      = var.gpu ? module.batch.gpu_job_queue_arn : module.batch.job_queue_arn
  job_definition_arn = var.gpu ? module.batch.gpu_job_definition_arn : module.batch.job_definition_arn

  search_environment = var.enable_search ? {
    BUCKETLENS_OPENSEARCH_ENDPOINT = module.search[0].domain_endpoint
    BUCKETLENS_OPENSEARCH_INDEX    = var.search_index
  } : {}
  # only the worker signs in with basic auth; the submitter's deletes are SigV4 (Amazon OpenSearch Service)
  search_auth_environment = var.enable_search && var.search_secret_arn != null ? {
    BUCKETLENS_OPENSEARCH_AUTH       = "basic"
    BUCKETLENS_OPENSEARCH_SECRET_ARN = var.search_secret_arn
  } : {}

  # the created domain is VPC-only: the submitter's deletes must come from inside
  submitter_in_vpc = var.submitter_in_vpc != null ? var.submitter_in_vpc : (var.enable_search && var.search_existing_endpoint == null)
  # what reaches the search domain and the interface endpoints, by names known at plan
  client_security_groups = merge(
    { for i, id in var.security_group_ids : "workers-${i}" => id },
    local.submitter_in_vpc ? { submitter = module.submitter.security_group_id } : {},
  )
  # who gets which OpenSearch role: the search domain's setup function maps them at deploy time
  search_grants = {
    bucketlens_writer  = [module.batch.job_role_arn]
    bucketlens_deleter = [module.submitter.role_arn]
    bucketlens_reader  = var.search_reader_arns
  }

  uses_model = var.project_version_arn != null && contains(split(",", var.features), "custom-labels")

  fast_path = var.fast_path_images > 0 && !var.enable_search
  # the user's models on the fast path: the zip carries onnxruntime (lambda_submitter/requirements-models.txt)
  with_models = local.onnx || local.embeds
  # the fast path runs the worker in the Lambda: the worker's settings, without the region (Lambda sets it)
  labeller_environment = local.fast_path ? tomap(merge(
    {
      BUCKETLENS_FAST_PATH_IMAGES = tostring(var.fast_path_images)
      BUCKETLENS_LIMITER_TABLE    = module.results.limiter_table_name
      BUCKETLENS_RESULTS_URI      = module.manifests.runs_uri # the previews go beside it
      BUCKETLENS_MIN_CONFIDENCE   = tostring(var.min_confidence)
      BUCKETLENS_MAX_LABELS       = tostring(var.max_labels)
    },
    var.max_tps_per_child == null ? {} : { BUCKETLENS_MAX_TPS = tostring(var.max_tps_per_child) },
    var.workers == null ? {} : { BUCKETLENS_WORKERS = tostring(var.workers) },
    local.labeler_environment,
    local.embedding_environment,
  )) : tomap({ BUCKETLENS_FAST_PATH_IMAGES = "0" })

  submitter_environment = merge({
    BUCKETLENS_JOB_QUEUE        = module.batch.job_queue_arn
    BUCKETLENS_JOB_DEFINITION   = module.batch.job_definition_arn
    BUCKETLENS_MANIFESTS_BUCKET = module.manifests.bucket_name
    BUCKETLENS_MANIFESTS_PREFIX = module.manifests.manifests_prefix
    BUCKETLENS_TABLE            = module.results.table_name
    BUCKETLENS_LABEL_TABLE      = module.results.label_table_name
    BUCKETLENS_FEATURES         = var.features
    BUCKETLENS_SHARD_SIZE       = tostring(var.shard_size)
    BUCKETLENS_EXTENSIONS       = local.extensions
    BUCKETLENS_LOG_LEVEL        = var.submitter_log_level
    BUCKETLENS_DEPLOYMENT       = var.name
    # the jobs' and the fast path's quota where Service Quotas cannot be read (lambda_submitter/account_quota.py)
    BUCKETLENS_TPS_QUOTA = tostring(var.rekognition_tps_quota)
    BUCKETLENS_LABELER   = var.labeler # the submitter routes onnx jobs to the GPU queue when there is one
    }, local.uses_model ? { BUCKETLENS_PROJECT_VERSION_ARN = var.project_version_arn } : {},
    var.gpu ? {
      BUCKETLENS_GPU_JOB_QUEUE      = module.batch.gpu_job_queue_arn
      BUCKETLENS_GPU_JOB_DEFINITION = module.batch.gpu_job_definition_arn
    } : {},
    local.search_environment,
    local.labeller_environment,
    # its deletes remove the deleted image's vectors (lambda_submitter/deletions.py)
    local.embeds ? { BUCKETLENS_VECTOR_BUCKET = local.vector_bucket } : {},
  )
}

module "ecr" {
  source = "./modules/ecr"

  name                 = var.name
  image_tag_mutability = var.image_tag_mutability
  force_delete         = var.force_destroy
  kms_key_arn          = var.kms_key_arn
  tags                 = var.tags
}

module "results" {
  source = "./modules/results"

  name                = coalesce(var.table_name, "${var.name}-results")
  deletion_protection = var.deletion_protection
  kms_key_arn         = var.kms_key_arn
  tags                = var.tags
}

module "manifests" {
  source = "./modules/manifests"

  bucket_prefix = "${var.name}-manifests-"
  expiry_days   = var.manifests_expiry_days
  force_destroy = var.force_destroy
  kms_key_arn   = var.kms_key_arn
  tags          = var.tags
}

module "triggers" {
  source = "./modules/triggers"

  name                       = var.name
  images_bucket_name         = var.images_bucket_name
  extensions                 = var.extensions
  event_route                = var.event_route
  manage_bucket_eventbridge  = var.manage_bucket_eventbridge
  visibility_timeout_seconds = 6 * var.submitter_timeout_seconds
  message_retention_seconds  = var.queue_retention_seconds
  max_receive_count          = local.max_receive_count
  enable_inventory           = var.enable_inventory
  inventory_frequency        = var.inventory_frequency
  inventory_format           = var.inventory_format
  inventory_bucket_prefix    = "${var.name}-inventory-"
  submitter_function_arn     = module.submitter.function_arn
  force_destroy              = var.force_destroy
  kms_key_arn                = var.kms_key_arn
  tags                       = var.tags
}

module "batch" {
  source = "./modules/batch"

  name               = var.name
  compute_type       = var.compute_type
  max_vcpus          = var.max_vcpus
  instance_types     = var.instance_types
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  assign_public_ip   = var.assign_public_ip

  image              = "${module.ecr.repository_url}:${var.image_tag}"
  gpu_image          = "${module.ecr.repository_url}:${var.image_tag}-gpu"
  ecr_repository_arn = module.ecr.repository_arn

  gpu              = var.gpu
  gpu_compute_type = var.gpu_compute_type

  instance_metadata_hop_limit = var.instance_metadata_hop_limit
  gpu_instance_types          = var.gpu_instance_types
  gpu_max_vcpus               = var.gpu_max_vcpus
  model_object_arns           = local.model_object_arns
  embedding_object_arns       = local.embedding_object_arns
  vector_bucket_arn           = local.vector_bucket_arn
  job_vcpu                    = var.job_vcpu
  job_memory                  = var.job_memory
  retry_attempts              = var.retry_attempts
  timeout_seconds             = var.job_timeout_seconds
  log_retention_days          = var.log_retention_days

  job_parameters = {
    source       = "s3://${var.images_bucket_name}/"
    shards       = "1"
    shard_offset = "0"
    features     = var.features
  }
  environment = local.worker_environment

  images_bucket_arn    = module.triggers.images_bucket_arn
  manifests_bucket_arn = module.manifests.bucket_arn
  manifests_prefix     = module.manifests.manifests_prefix
  runs_prefix          = module.manifests.runs_prefix
  inventory_bucket_arn = module.triggers.inventory_bucket_arn
  table_arn            = module.results.table_arn
  label_table_arn      = module.results.label_table_arn
  limiter_table_arn    = module.results.limiter_table_arn
  search_domain_arn    = var.enable_search ? module.search[0].domain_arn : null
  search_secret_arn    = var.search_secret_arn
  project_version_arn  = var.project_version_arn
  kms_key_arn          = var.kms_key_arn
  log_kms_key_arn      = var.kms_key_arn
  tags                 = var.tags
}

module "submitter" {
  source = "./modules/submitter"

  name            = "${var.name}-submitter"
  source_dir      = local.source_dir
  package_bucket  = module.manifests.versioned_bucket_name
  python          = var.python
  runtime         = var.lambda_runtime
  timeout_seconds = var.submitter_timeout_seconds
  memory_size     = var.submitter_memory_mb
  architecture    = var.lambda_architecture
  environment     = local.submitter_environment
  fast_path       = local.fast_path

  queue_arn               = module.triggers.queue_arn
  dead_letter_queue_arn   = module.triggers.dead_letter_queue_arn
  batching_window_seconds = var.submitter_batching_window_seconds
  batch_size              = var.submitter_batch_size

  # only the queue and job definition its jobs go to (the GPU ones with gpu = true)
  job_queue_arn = local.job_queue_arn
  job_definition_arns = var.gpu ? [module.batch.gpu_job_definition_arn, module.batch.gpu_job_definition_arn_prefix] : [
    module.batch.job_definition_arn, module.batch.job_definition_arn_prefix
  ]
  images_bucket_arn    = module.triggers.images_bucket_arn
  manifests_bucket_arn = module.manifests.bucket_arn
  manifests_prefix     = module.manifests.manifests_prefix
  enable_inventory     = var.enable_inventory
  inventory_bucket_arn = module.triggers.inventory_bucket_arn
  table_arn            = module.results.table_arn
  label_table_arn      = module.results.label_table_arn
  limiter_table_arn    = module.results.limiter_table_arn
  search_domain_arn    = var.enable_search ? module.search[0].domain_arn : null
  vector_bucket_arn    = local.vector_bucket_arn
  # the fast path with the user's models: onnxruntime in the zip, their files, their vectors, no Rekognition
  with_models         = local.with_models
  model_object_arns   = concat(local.model_object_arns, local.embedding_object_arns)
  uses_rekognition    = var.labeler == "rekognition"
  log_retention_days  = var.log_retention_days
  enabled             = !var.enable_schedule
  subnet_ids          = local.submitter_in_vpc ? var.subnet_ids : []
  project_version_arn = local.uses_model ? var.project_version_arn : null
  kms_key_arn         = var.kms_key_arn
  log_kms_key_arn     = var.kms_key_arn
  tags                = var.tags
}

module "search" {
  source = "./modules/search"
  count  = var.enable_search ? 1 : 0

  create_domain              = var.search_existing_endpoint == null
  domain_name                = "${var.name}-search"
  existing_endpoint          = var.search_existing_endpoint
  existing_domain_arn        = var.search_existing_domain_arn
  instance_type              = var.search_instance_type
  instance_count             = var.search_instance_count
  subnet_ids                 = var.subnet_ids
  client_security_groups     = local.client_security_groups
  create_service_linked_role = var.search_create_service_linked_role
  master_user_arn            = var.search_master_user_arn
  index                      = var.search_index
  grants                     = local.search_grants
  package                    = module.submitter.package
  package_hash               = module.submitter.package_hash
  runtime                    = var.lambda_runtime
  architecture               = var.lambda_architecture
  log_retention_days         = var.log_retention_days
  kms_key_arn                = var.kms_key_arn
  log_kms_key_arn            = var.kms_key_arn
  log_resource_policy_ready  = one(aws_cloudwatch_log_resource_policy.log_delivery[*].policy_name)
  tags                       = var.tags
}

# How many deliveries an event gets before the dead-letter queue: enough for the fast path's retry waits
# (lambda_submitter/triggers.py retry_delay: 15 s doubling up to 900 s, so 945 s over the first six) to add
# up to event_patience_hours. With the schedule, events bounced off a stopped model must not reach the DLQ
# within the retention: one receive per visibility timeout at most.
locals {
  patience_seconds  = var.event_patience_hours * 3600
  patience_receives = 1 + length([for n in range(1, 1000) : n if(n <= 6 ? 15 * (pow(2, n) - 1) : 945 + 900 * (n - 6)) < local.patience_seconds])
  schedule_receives = ceil(var.queue_retention_seconds / (6 * var.submitter_timeout_seconds)) + 1
  max_receive_count = coalesce(var.max_receive_count, min(1000, max(local.patience_receives, var.enable_schedule ? local.schedule_receives : 1)))
}

# Without NAT (vpc_without_nat), every interface endpoint what runs in the subnets calls: the workers
# (ECR to pull the image, CloudWatch Logs, Rekognition unless the onnx labeler labels, Secrets Manager with
# basic auth), the ECS agent of EC2 and Spot instances (ecs, ecs-agent, ecs-telemetry: without them the
# instances never register and jobs wait in RUNNABLE), and the submitter when it is in the VPC.
locals {
  ec2_based = !startswith(var.compute_type, "FARGATE") || var.gpu
  nat_less_endpoints = var.vpc_without_nat ? concat(
    ["ecr.api", "ecr.dkr", "logs"],
    var.labeler == "rekognition" ? ["rekognition"] : [],
    local.ec2_based ? ["ecs", "ecs-agent", "ecs-telemetry"] : [],
    var.enable_search && var.search_secret_arn != null ? ["secretsmanager"] : [],
    local.submitter_in_vpc ? ["batch", "sqs", "servicequotas"] : [],
  ) : []
  interface_endpoints = sort(distinct(concat(var.vpc_interface_endpoints, local.nat_less_endpoints)))
}

module "endpoints" {
  source = "./modules/endpoints"
  count  = length(var.vpc_endpoint_route_table_ids) + length(local.interface_endpoints) > 0 ? 1 : 0

  name                   = var.name
  subnet_ids             = var.subnet_ids
  route_table_ids        = var.vpc_endpoint_route_table_ids
  interface_services     = local.interface_endpoints
  gateways_required      = var.vpc_without_nat
  client_security_groups = local.client_security_groups
  tags                   = var.tags
}

module "monitoring" {
  source = "./modules/monitoring"
  count  = var.enable_alarms ? 1 : 0

  name                   = var.name
  deployment             = var.name
  topic_arn              = var.alarm_topic_arn
  email                  = var.alarm_email
  queue_name             = element(split(":", module.triggers.queue_arn), 5)
  dead_letter_queue_name = element(split(":", module.triggers.dead_letter_queue_arn), 5)
  function_name          = module.submitter.function_name
  job_queue_arns         = compact([module.batch.job_queue_arn, module.batch.gpu_job_queue_arn])
  job_log_group_name     = module.batch.log_group_name
  # the name, known only once the policy exists: the rule's log target waits for it
  log_resource_policy_ready = one(aws_cloudwatch_log_resource_policy.log_delivery[*].policy_name)
  queue_age_seconds         = var.alarm_queue_age_seconds
  throttle_share_percent    = var.alarm_throttle_share_percent
  throttle_minutes          = var.alarm_throttle_minutes
  errors_per_hour           = var.alarm_errors_per_hour
  log_retention_days        = var.log_retention_days
  kms_key_arn               = var.kms_key_arn
  tags                      = var.tags
}

module "schedule" {
  source = "./modules/schedule"
  count  = var.enable_schedule ? 1 : 0

  name                      = "${var.name}-model-schedule"
  project_version_arn       = var.project_version_arn
  event_source_mapping_uuid = module.submitter.event_source_mapping_uuid
  job_queue_arn             = module.batch.job_queue_arn
  package                   = module.submitter.package
  package_hash              = module.submitter.package_hash
  runtime                   = var.lambda_runtime
  architecture              = var.lambda_architecture
  start_schedule            = var.schedule_start
  stop_schedule             = var.schedule_stop
  timezone                  = var.schedule_timezone
  min_inference_units       = var.min_inference_units
  max_inference_units       = var.max_inference_units
  drain_minutes             = var.schedule_drain_minutes
  log_retention_days        = var.log_retention_days
  kms_key_arn               = var.kms_key_arn
  log_kms_key_arn           = var.kms_key_arn
  tags                      = var.tags
}

# One CloudWatch Logs resource policy for the whole deployment, and none when nothing delivers logs: a
# region holds at most 10 such policies, a quota that cannot be raised. It lets EventBridge write the job
# state log (monitoring) and OpenSearch publish its audit log (a created search domain).
locals {
  log_delivery = var.enable_alarms || (var.enable_search && var.search_existing_endpoint == null)
}

data "aws_iam_policy_document" "log_delivery" {
  count = local.log_delivery ? 1 : 0

  source_policy_documents = concat(
    var.enable_alarms ? [module.monitoring[0].job_state_log_policy] : [],
    var.enable_search && var.search_existing_endpoint == null ? [module.search[0].audit_log_policy] : [],
  )
}

resource "aws_cloudwatch_log_resource_policy" "log_delivery" {
  count = local.log_delivery ? 1 : 0

  policy_name     = "${var.name}-log-delivery"
  policy_document = data.aws_iam_policy_document.log_delivery[0].json
}
