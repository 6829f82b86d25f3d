data "aws_caller_identity" "current" {}

data "aws_subnet" "first" {
  count = local.in_vpc ? 1 : 0

  id = var.subnet_ids[0]
}

locals {
  # The zip holds our code (the submitter, and the worker its fast path runs) and the locked wheels;
  # never tests, caches or a venv.
  package_files = sort(concat(
    tolist(fileset(var.source_dir, "lambda_submitter/*.py")),
    ["job/__init__.py"],
    tolist(fileset(var.source_dir, "job/core/*.py")),
    tolist(fileset(var.source_dir, "job/exif/*.py")),
    tolist(fileset(var.source_dir, "job/worker/*.py")),
  ))
  requirements   = "${var.source_dir}/lambda_submitter/${var.with_models ? "requirements-models.txt" : "requirements.txt"}"
  python_version = trimprefix(var.runtime, "python")
  source_hash = sha256(join("\n", concat(
    [for f in local.package_files : "${f} ${filesha256("${var.source_dir}/${f}")}"],
    ["wheels ${filesha256(local.requirements)} ${local.python_version} ${var.architecture}"],
  )))
  package_path = "${path.root}/.terraform/bucketlens/submitter-${substr(local.source_hash, 0, 16)}.zip"
  log_group    = "/aws/lambda/${var.name}"
  in_vpc       = length(var.subnet_ids) > 0
}

# Built on the machine running Terraform (package.py: pip downloads the locked manylinux wheels for the
# function's Python and architecture, hashes checked); rebuilt whenever a source file or the lock changes.
# The zip is kept in S3 beside the deployment: an apply from another machine (a fresh clone, a CI runner)
# that must replace the function reads it from there, never from a local .terraform/ it does not have.
resource "terraform_data" "package" {
  triggers_replace = [local.source_hash, local.package_path]

  provisioner "local-exec" {
    interpreter = [
      var.python, "${path.module}/package.py", "--root", var.source_dir, "--out", local.package_path,
      "--requirements", local.requirements, "--python-version", local.python_version,
      "--architecture", var.architecture,
    ]
    command = join(",", local.package_files)
  }
}

resource "aws_s3_object" "package" {
  #checkov:skip=CKV_AWS_186:The object takes the bucket's default encryption (the customer-managed key when one is given).
  bucket      = var.package_bucket
  key         = "${var.package_prefix}/submitter-${local.source_hash}.zip"
  source      = local.package_path
  source_hash = local.source_hash

  tags = merge(var.tags, { Name = "${var.name}-package" })

  depends_on = [terraform_data.package]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Submitter logs are operational; a year of retention is cost without use (set log_retention_days).
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = local.log_group })
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    # only this account's functions (confused-deputy protection)
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${substr(var.name, 0, 37)}-"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = merge(var.tags, { Name = var.name })
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "ConsumeEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }

  # lambda_submitter/triggers.py retry_sooner: a throttled upload comes back in seconds, not 30 minutes
  statement {
    sid       = "RetryThrottledUploadsSooner"
    actions   = ["sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"]
    resources = [var.queue_arn]
  }

  statement {
    sid       = "DeadLetterFailedInvocations"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue_arn]
  }

  statement {
    sid       = "SubmitWorkerJobs"
    actions   = ["batch:SubmitJob"]
    resources = concat([var.job_queue_arn], var.job_definition_arns)
  }

  statement {
    sid       = "ListImages"
    actions   = ["s3:ListBucket"]
    resources = [var.images_bucket_arn]
  }

  statement {
    sid       = "ReadImages"
    actions   = ["s3:GetObject"]
    resources = ["${var.images_bucket_arn}/*"]
  }

  # Without ListBucket, S3 answers a read of a missing key (an unwritten marker) with 403 instead of 404.
  statement {
    sid       = "ListManifests"
    actions   = ["s3:ListBucket"]
    resources = [var.manifests_bucket_arn]
  }

  statement {
    sid       = "WriteManifests"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.manifests_bucket_arn}/${var.manifests_prefix}/*"]
  }

  dynamic "statement" {
    for_each = var.enable_inventory ? [var.inventory_bucket_arn] : []
    content {
      sid       = "ReadInventoryReports"
      actions   = ["s3:GetObject"]
      resources = ["${statement.value}/*"]
    }
  }

  # lambda_submitter/deletions.py: a deleted image's vector leaves every model's index
  dynamic "statement" {
    for_each = var.vector_bucket_arn == null ? [] : [var.vector_bucket_arn]
    content {
      sid       = "RemoveDeletedImagesVectors"
      actions   = ["s3vectors:DeleteVectors", "s3vectors:ListIndexes"]
      resources = [statement.value, "${statement.value}/index/*"]
    }
  }

  # SQS and S3 ask KMS, as this role, for the keys of the messages it receives and the objects it reads/writes.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseTheDeploymentKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "WriteTombstones"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [var.table_arn]
  }

  # The fast path (lambda_submitter/fast_path.py) runs the worker on a few images: a child's calls.
  dynamic "statement" {
    for_each = var.fast_path ? [1] : []
    content {
      sid       = "ReadImageVersions" # GetObject with the event's VersionId
      actions   = ["s3:GetObjectVersion"]
      resources = ["${var.images_bucket_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.fast_path ? [1] : []
    content {
      sid       = "StoreResults" # GetItem and PutItem come with WriteTombstones
      actions   = ["dynamodb:UpdateItem"]
      resources = [var.table_arn]
    }
  }

  dynamic "statement" {
    for_each = var.fast_path ? [1] : []
    content {
      sid       = "KeepPreviews" # the worker's EXIF previews, at thumbnails/<digest>.jpg
      actions   = ["s3:PutObject"]
      resources = ["${var.manifests_bucket_arn}/thumbnails/*"]
    }
  }

  dynamic "statement" {
    for_each = var.fast_path && var.uses_rekognition ? [var.limiter_table_arn] : []
    content {
      sid       = "ShareRekognitionQuota" # job/core/quota.py, with the Batch children
      actions   = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.fast_path && var.uses_rekognition ? [1] : []
    content {
      sid       = "DetectLabelsAndText"
      actions   = ["rekognition:DetectLabels", "rekognition:DetectText"]
      resources = ["*"] # DetectLabels and DetectText have no resource-level permissions.
    }
  }

  # job/worker/model_source.py: the user's models, read once per Lambda environment (a HEAD each batch)
  dynamic "statement" {
    for_each = var.fast_path && length(var.model_object_arns) > 0 ? [var.model_object_arns] : []
    content {
      sid       = "ReadModels"
      actions   = ["s3:GetObject"]
      resources = statement.value
    }
  }

  # job/core/vectors.py, as the jobs: the vector bucket and the model's index where missing, each image's vector
  dynamic "statement" {
    for_each = var.fast_path && var.with_models && var.vector_bucket_arn != null ? [var.vector_bucket_arn] : []
    content {
      sid = "StoreImageVectors"
      actions = [
        "s3vectors:CreateIndex", "s3vectors:CreateVectorBucket", "s3vectors:GetIndex", "s3vectors:GetVectorBucket",
        "s3vectors:PutVectors",
      ]
      resources = [statement.value, "${statement.value}/index/*"]
    }
  }

  dynamic "statement" {
    for_each = var.fast_path && var.project_version_arn != null ? [var.project_version_arn] : []
    content {
      sid       = "DetectCustomLabels"
      actions   = ["rekognition:DetectCustomLabels"]
      resources = [statement.value]
    }
  }

  # lambda_submitter/account_quota.py: the account's Rekognition TPS, for the jobs and the fast path
  statement {
    sid       = "ReadRekognitionQuota"
    actions   = ["servicequotas:ListAWSDefaultServiceQuotas", "servicequotas:ListServiceQuotas"]
    resources = ["*"] # Service Quotas' list actions have no resource-level permissions.
  }

  statement {
    sid       = "UnindexDeletedImages"
    actions   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
    resources = [var.label_table_arn, "${var.label_table_arn}/index/by_ref"]
  }

  dynamic "statement" {
    for_each = var.project_version_arn == null ? [] : [var.project_version_arn]
    content {
      sid       = "DescribeCustomLabelsModel"
      actions   = ["rekognition:DescribeProjectVersions"]
      resources = ["${split("/version/", statement.value)[0]}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.search_domain_arn == null ? [] : [var.search_domain_arn]
    content {
      sid       = "UnindexDeletedImagesFromSearch"
      actions   = ["es:ESHttpDelete"]
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

  # In a VPC, Lambda places the function's network interfaces as this role (AWSLambdaVPCAccessExecutionRole's
  # actions); EC2's Describe actions have no resource-level permissions, so neither can the rest here.
  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []
    content {
      sid = "PlaceNetworkInterfacesInTheVpc"
      actions = [
        "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "bucketlens-submitter"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# In the VPC (with a VPC-only search domain): out on HTTPS only, to the domain and to AWS's APIs (through
# NAT or VPC endpoints); nothing in.
resource "aws_security_group" "this" {
  count = local.in_vpc ? 1 : 0

  name_prefix = "${var.name}-"
  description = "bucketlens submitter: HTTPS out only"
  vpc_id      = data.aws_subnet.first[0].vpc_id

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "https" {
  count = local.in_vpc ? 1 : 0

  security_group_id = aws_security_group.this[0].id
  description       = "HTTPS to the search domain and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = merge(var.tags, { Name = "${var.name}-https" })
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:In the VPC exactly when it must reach a VPC-only search domain (subnet_ids); otherwise it only calls AWS APIs and a VPC would add NAT or endpoints for nothing.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the SQS event source's maximum_concurrency; reserving some fails on new accounts.
  #checkov:skip=CKV_AWS_173:The environment holds resource names only, no secrets; kms_key_arn encrypts it with a customer-managed key when given.
  #checkov:skip=CKV_AWS_272:Code is deployed from this repository by Terraform itself; code signing needs a signing profile per account.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not used by bucketlens; structured logs carry the run context.
  function_name     = var.name
  description       = "bucketlens: labels small event batches itself, turns the rest into Batch array jobs"
  role              = aws_iam_role.this.arn
  runtime           = var.runtime
  handler           = "lambda_submitter.handler.handler"
  s3_bucket         = aws_s3_object.package.bucket
  s3_key            = aws_s3_object.package.key
  s3_object_version = aws_s3_object.package.version_id
  source_code_hash  = base64encode(local.source_hash)
  kms_key_arn       = var.kms_key_arn
  memory_size       = var.memory_size
  timeout           = var.timeout_seconds
  architectures     = [var.architecture]

  environment {
    variables = var.environment
  }

  dead_letter_config {
    target_arn = var.dead_letter_queue_arn
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = [aws_security_group.this[0].id]
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = merge(var.tags, { Name = var.name })

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  # With a Custom Labels schedule the mapping is switched on and off by it (modules/schedule): Terraform
  # sets the initial state only, so an apply during the day does not stop the flow.
  enabled                            = var.enabled
  event_source_arn                   = var.queue_arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    ignore_changes = [enabled]

    # CreateEventSourceMapping refuses it (the emulator does not): "when you set BatchSize to a value
    # greater than 10, you must set MaximumBatchingWindowInSeconds to at least 1"
    precondition {
      condition     = var.batch_size <= 10 || var.batching_window_seconds >= 1
      error_message = "An SQS batch size above 10 needs a batching window of at least 1 second (AWS Lambda's rule)."
    }
  }
}

resource "aws_lambda_permission" "inventory" {
  count = var.enable_inventory ? 1 : 0

  statement_id   = "AllowInventoryBucketNotification"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = var.inventory_bucket_arn
  source_account = data.aws_caller_identity.current.account_id
}
