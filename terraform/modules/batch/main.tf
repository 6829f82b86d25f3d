data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  fargate = contains(["FARGATE", "FARGATE_SPOT"], var.compute_type)
  # EC2 instances, and so an instance role, for the CPU workers unless Fargate runs them, and for the GPU
  instances = !local.fargate || var.gpu

  # Both job definitions: a reclaimed host or a transient exit (75) retries; a configuration exit (78)
  # and anything else end the child.
  exit_rules = [
    { action = "RETRY", on_status_reason = "Host EC2*" },
    { action = "RETRY", on_exit_code = tostring(var.transient_exit_code) },
    { action = "EXIT", on_exit_code = tostring(var.config_exit_code) },
    { action = "EXIT", on_reason = "*" },
  ]

  # What both job definitions run: the image's ENTRYPOINT is `python -m job`, and a job definition's
  # command replaces only CMD.
  container = {
    command                = ["run", "--source", "Ref::source", "--shards", "Ref::shards", "--shard-offset", "Ref::shard_offset", "--features", "Ref::features"]
    jobRoleArn             = aws_iam_role.job.arn
    executionRoleArn       = aws_iam_role.execution.arn
    environment            = local.environment
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = var.name
      }
    }
  }
  # A list of env pairs sorted by name, so the job definition does not churn on map ordering.
  environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
}

# --- Roles ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "batch_assume" {
  statement {
    sid     = "BatchAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["batch.amazonaws.com"]
    }

    # only Batch acting for this account (confused-deputy protection, AWS Batch User Guide)
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:batch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "service" {
  name_prefix        = "${var.name}-batch-svc-"
  assume_role_policy = data.aws_iam_policy_document.batch_assume.json

  tags = merge(var.tags, { Name = "${var.name}-batch-service" })
}

resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    sid     = "Ec2AssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
    # (no source conditions: EC2 gives none when an instance profile's role is assumed)
  }
}

resource "aws_iam_role" "instance" {
  count = local.instances ? 1 : 0

  name_prefix        = "${var.name}-batch-ec2-"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json

  tags = merge(var.tags, { Name = "${var.name}-batch-instance" })
}

resource "aws_iam_role_policy_attachment" "instance" {
  count = local.instances ? 1 : 0

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.instances ? 1 : 0

  name_prefix = "${var.name}-batch-ec2-"
  role        = aws_iam_role.instance[0].name

  tags = merge(var.tags, { Name = "${var.name}-batch-instance" })
}

data "aws_iam_policy_document" "task_assume" {
  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # only this account's ECS tasks (confused-deputy protection, Amazon ECS Developer Guide, task IAM role)
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

# Execution role: what ECS needs to start the container (pull the image, ship its logs).
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-batch-exec-"
  assume_role_policy = data.aws_iam_policy_document.task_assume.json

  tags = merge(var.tags, { Name = "${var.name}-batch-execution" })
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuthorizationToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }

  statement {
    sid = "EcrPullWorkerImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "WriteWorkerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Job role: what the worker code itself calls.
resource "aws_iam_role" "job" {
  name_prefix        = "${var.name}-batch-job-"
  assume_role_policy = data.aws_iam_policy_document.task_assume.json

  tags = merge(var.tags, { Name = "${var.name}-batch-job" })
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ListImages"
    actions   = ["s3:ListBucket"]
    resources = [var.images_bucket_arn]
  }

  statement {
    sid       = "ReadImages"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.images_bucket_arn}/*"]
  }

  # Without ListBucket, S3 answers a read of a missing key with 403 instead of 404.
  statement {
    sid       = "ListManifests"
    actions   = ["s3:ListBucket"]
    resources = [var.manifests_bucket_arn]
  }

  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject"]
    resources = ["${var.manifests_bucket_arn}/${var.manifests_prefix}/*"]
  }

  # job/worker/image.py _keep_preview: the camera's EXIF preview, upright, at thumbnails/<digest>.jpg
  statement {
    sid       = "KeepPreviews"
    actions   = ["s3:PutObject"]
    resources = ["${var.manifests_bucket_arn}/thumbnails/*"]
  }

  statement {
    sid       = "WriteRunSummaries" # and the results a failed table write left for the retry (job/worker/pending.py)
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.manifests_bucket_arn}/${var.runs_prefix}/*"]
  }

  # job/worker/model_source.py: the onnx labeler's model and classes, once per child
  dynamic "statement" {
    for_each = length(var.model_object_arns) == 0 ? [] : [var.model_object_arns]
    content {
      sid       = "ReadModel"
      actions   = ["s3:GetObject"]
      resources = statement.value
    }
  }

  # job/worker/model_source.py: the embedding model's three files, once per child
  dynamic "statement" {
    for_each = length(var.embedding_object_arns) == 0 ? [] : [var.embedding_object_arns]
    content {
      sid       = "ReadEmbeddingModel"
      actions   = ["s3:GetObject"]
      resources = statement.value
    }
  }

  # job/core/vectors.py: the vector bucket (its encryption checked) and the model's index where missing, then
  # each image's vector;
  # job/commands/relabel.py (run as a job): every vector listed with its data (ListVectors with returnData
  # needs GetVectors too) and its metadata rewritten
  dynamic "statement" {
    for_each = var.vector_bucket_arn == null ? [] : [var.vector_bucket_arn]
    content {
      sid = "StoreImageVectors"
      actions = [
        "s3vectors:CreateIndex", "s3vectors:CreateVectorBucket", "s3vectors:GetIndex", "s3vectors:GetVectorBucket",
        "s3vectors:GetVectors", "s3vectors:ListVectors", "s3vectors:PutVectors",
      ]
      resources = [statement.value, "${statement.value}/index/*"]
    }
  }

  dynamic "statement" {
    for_each = var.inventory_bucket_arn == null ? [] : [var.inventory_bucket_arn]
    content {
      sid       = "ReadInventoryReports"
      actions   = ["s3:GetObject"]
      resources = ["${statement.value}/*"]
    }
  }

  # S3 asks KMS, as this role, for the keys of the manifests and run summaries it reads and writes.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseTheDeploymentKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  statement {
    sid = "WriteResults"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]
    resources = [var.table_arn]
  }

  statement {
    sid       = "ShareRekognitionQuota" # job/core/quota.py: a row per child, the live rows read back
    actions   = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [var.limiter_table_arn]
  }

  statement {
    sid       = "MaintainLabelIndex"
    actions   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
    resources = [var.label_table_arn, "${var.label_table_arn}/index/*"]
  }

  statement {
    sid       = "DetectLabelsAndText"
    actions   = ["rekognition:DetectLabels", "rekognition:DetectText"]
    resources = ["*"] # DetectLabels and DetectText have no resource-level permissions.
  }

  dynamic "statement" {
    for_each = var.project_version_arn == null ? [] : [var.project_version_arn]
    content {
      sid       = "DetectCustomLabels"
      actions   = ["rekognition:DetectCustomLabels"]
      resources = [statement.value]
    }
  }

  # The worker asks whether the model runs before its first Custom Labels call (job/core/model_status.py).
  dynamic "statement" {
    for_each = var.project_version_arn == null ? [] : [var.project_version_arn]
    content {
      sid       = "DescribeCustomLabelsModel"
      actions   = ["rekognition:DescribeProjectVersions"]
      resources = ["${split("/version/", statement.value)[0]}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.search_secret_arn == null ? [] : [var.search_secret_arn]
    content {
      sid       = "ReadSearchCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.search_domain_arn == null ? [] : [var.search_domain_arn]
    content {
      sid       = "IndexForSearch"
      actions   = ["es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"]
      resources = ["${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.project_version_arn == null ? [] : [var.project_version_arn]
    content {
      sid       = "FindCustomLabelsProject"
      actions   = ["rekognition:DescribeProjects"]
      resources = ["*"] # DescribeProjects has no resource-level permissions.
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "bucketlens-worker"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# --- Logs ----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Worker logs are operational; results live in DynamoDB, so a year of retention is cost without use (set log_retention_days).
  name              = "/aws/batch/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = "/aws/batch/${var.name}" })
}

# --- Compute environment and queue ---------------------------------------------------------------

# EC2, Spot and GPU instances answer IMDS with IMDSv2 only, one hop away: the ECS agent (host network)
# reaches it, the job containers (bridge network, one hop further) do not, so they cannot take the
# instance role's credentials; they get the job role from the ECS agent instead. Fargate has no instance.
# The environments take "$Latest": a new template version then changes nothing in them (an in-place update
# of a compute environment's launch template version is what the provider fails to plan consistently).
resource "aws_launch_template" "instances" {
  count = local.fargate && !var.gpu ? 0 : 1

  name_prefix = "${var.name}-batch-"
  description = "bucketlens Batch instances: IMDSv2 required, hop limit ${var.instance_metadata_hop_limit}"

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.instance_metadata_hop_limit
  }

  tags = merge(var.tags, { Name = "${var.name}-batch-instances" })
}

resource "aws_batch_compute_environment" "this" {
  compute_environment_name_prefix = "${var.name}-"
  type                            = "MANAGED"
  service_role                    = aws_iam_role.service.arn

  compute_resources {
    type          = var.compute_type
    max_vcpus     = var.max_vcpus
    min_vcpus     = local.fargate ? null : var.min_vcpus
    instance_type = local.fargate ? null : var.instance_types
    instance_role = local.fargate ? null : aws_iam_instance_profile.instance[0].arn
    allocation_strategy = local.fargate ? null : (
      var.compute_type == "SPOT" ? "SPOT_PRICE_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    )
    bid_percentage     = var.compute_type == "SPOT" ? var.spot_bid_percentage : null
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
    tags               = local.fargate ? null : merge(var.tags, { Name = "${var.name}-worker" })

    dynamic "launch_template" {
      for_each = local.fargate ? [] : [1]
      content {
        launch_template_id = aws_launch_template.instances[0].id
        version            = "$Latest"
      }
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-compute" })

  depends_on = [aws_iam_role_policy_attachment.service]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_batch_job_queue" "this" {
  name     = "${var.name}-queue"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this.arn
  }

  tags = merge(var.tags, { Name = "${var.name}-queue" })
}

# --- Job definition ------------------------------------------------------------------------------

resource "aws_batch_job_definition" "this" {
  name                  = "${var.name}-worker"
  type                  = "container"
  platform_capabilities = [local.fargate ? "FARGATE" : "EC2"]
  propagate_tags        = true
  parameters            = var.job_parameters

  container_properties = jsonencode(merge(
    local.container,
    {
      image = var.image
      resourceRequirements = [
        { type = "VCPU", value = tostring(var.job_vcpu) },
        { type = "MEMORY", value = tostring(var.job_memory) },
      ]
      privileged = local.fargate ? null : false
    },
    local.fargate ? {
      fargatePlatformConfiguration = { platformVersion = "LATEST" }
      networkConfiguration         = { assignPublicIp = var.assign_public_ip ? "ENABLED" : "DISABLED" }
    } : {}
  ))

  retry_strategy {
    attempts = var.retry_attempts

    dynamic "evaluate_on_exit" {
      for_each = local.exit_rules
      content {
        action           = evaluate_on_exit.value.action
        on_status_reason = lookup(evaluate_on_exit.value, "on_status_reason", null)
        on_exit_code     = lookup(evaluate_on_exit.value, "on_exit_code", null)
        on_reason        = lookup(evaluate_on_exit.value, "on_reason", null)
      }
    }
  }

  timeout {
    attempt_duration_seconds = var.timeout_seconds
  }

  tags = merge(var.tags, { Name = "${var.name}-worker" })

  lifecycle {
    precondition {
      condition     = lookup(var.environment, "BUCKETLENS_LABELER", "rekognition") != "onnx" || length(var.model_object_arns) == 2
      error_message = "labeler = \"onnx\" needs model_uri and model_labels_uri (s3://bucket/key of the model and of its class names)."
    }
    precondition {
      condition     = lookup(var.environment, "BUCKETLENS_LABELER", "rekognition") != "clip" || contains(keys(var.environment), "BUCKETLENS_PROMPTS_URI")
      error_message = "labeler = \"clip\" needs embedding_model, with its prompts_uri (the prompt list)."
    }
    precondition {
      condition     = lookup(var.environment, "BUCKETLENS_LABELER", "rekognition") == "rekognition" || lookup(var.job_parameters, "features", "labels") == "labels"
      error_message = "labeler = \"onnx\" or \"clip\" labels only: set features = \"labels\" (text and custom-labels are Rekognition's)."
    }
    precondition {
      condition     = !var.gpu || lookup(var.environment, "BUCKETLENS_LABELER", "rekognition") != "rekognition" || contains(keys(var.environment), "BUCKETLENS_EMBED_IMAGE_URI")
      error_message = "gpu = true runs your models on GPUs: set labeler = \"onnx\" (model_uri, model_labels_uri) or \"clip\", or an embedding_model."
    }
  }
}

# --- GPU: the onnx labeler on NVIDIA T4 or A10G ----------------------------------------------------

resource "aws_batch_compute_environment" "gpu" {
  count = var.gpu ? 1 : 0

  compute_environment_name_prefix = "${var.name}-gpu-"
  type                            = "MANAGED"
  service_role                    = aws_iam_role.service.arn

  compute_resources {
    type                = var.gpu_compute_type
    max_vcpus           = var.gpu_max_vcpus
    min_vcpus           = 0
    instance_type       = var.gpu_instance_types
    instance_role       = aws_iam_instance_profile.instance[0].arn
    allocation_strategy = var.gpu_compute_type == "SPOT" ? "SPOT_PRICE_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    bid_percentage      = var.gpu_compute_type == "SPOT" ? var.spot_bid_percentage : null
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids
    tags                = merge(var.tags, { Name = "${var.name}-gpu-worker" })

    launch_template {
      launch_template_id = aws_launch_template.instances[0].id
      version            = "$Latest"
    }

    # The ECS GPU-optimised Amazon Linux 2023 AMI: its NVIDIA driver (580) runs the CUDA 13 that the
    # image's onnxruntime-gpu wheels bring; the AL2 GPU AMI's driver (550) does not.
    ec2_configuration {
      image_type = "ECS_AL2023_NVIDIA"
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-gpu-compute" })

  depends_on = [aws_iam_role_policy_attachment.service]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_batch_job_queue" "gpu" {
  count = var.gpu ? 1 : 0

  name     = "${var.name}-gpu-queue"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.gpu[0].arn
  }

  tags = merge(var.tags, { Name = "${var.name}-gpu-queue" })
}

resource "aws_batch_job_definition" "gpu" {
  count = var.gpu ? 1 : 0

  name                  = "${var.name}-gpu-worker"
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true
  parameters            = var.job_parameters

  container_properties = jsonencode(merge(local.container, {
    image = var.gpu_image
    # the GPU or nothing: a job that lands without CUDA exits 78 rather than run on the CPU at GPU prices
    environment = [for k, v in merge(var.environment, { BUCKETLENS_MODEL_DEVICE = "cuda" }) : { name = k, value = v }]
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.gpu_job_vcpu) },
      { type = "MEMORY", value = tostring(var.gpu_job_memory) },
      { type = "GPU", value = "1" },
    ]
    privileged = false
  }))

  retry_strategy {
    attempts = var.retry_attempts

    dynamic "evaluate_on_exit" {
      for_each = local.exit_rules
      content {
        action           = evaluate_on_exit.value.action
        on_status_reason = lookup(evaluate_on_exit.value, "on_status_reason", null)
        on_exit_code     = lookup(evaluate_on_exit.value, "on_exit_code", null)
        on_reason        = lookup(evaluate_on_exit.value, "on_reason", null)
      }
    }
  }

  timeout {
    attempt_duration_seconds = var.timeout_seconds
  }

  tags = merge(var.tags, { Name = "${var.name}-gpu-worker" })

  lifecycle {
    precondition {
      condition     = var.gpu_image != null
      error_message = "gpu = true needs gpu_image: the image built from the Dockerfile's gpu target."
    }
  }
}
