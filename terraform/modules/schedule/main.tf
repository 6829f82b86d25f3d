# The Custom Labels model's working day: EventBridge Scheduler invokes the scheduler function
# (lambda_submitter.scheduler.handler, the submitter's zip) with start and stop, and a poll schedule
# that the function itself enables while the model is starting or draining.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  project_arn_pattern = "${split("/version/", var.project_version_arn)[0]}/*"
  poll_name           = "${var.name}-poll"
  poll_arn            = "arn:${data.aws_partition.current.partition}:scheduler:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:schedule/default/${local.poll_name}"
  mapping_arn         = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:event-source-mapping:${var.event_source_mapping_uuid}"
  log_group           = "/aws/lambda/${var.name}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Schedule logs are operational; a year of retention is cost without use (set log_retention_days).
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = local.log_group })
}

data "aws_iam_policy_document" "lambda_assume" {
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
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = merge(var.tags, { Name = var.name })
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "StartAndStopTheModel"
    actions   = ["rekognition:StartProjectVersion", "rekognition:StopProjectVersion"]
    resources = [var.project_version_arn]
  }

  statement {
    sid       = "DescribeTheModel"
    actions   = ["rekognition:DescribeProjectVersions"]
    resources = [local.project_arn_pattern]
  }

  statement {
    sid       = "FindTheProject"
    actions   = ["rekognition:DescribeProjects"]
    resources = ["*"] # DescribeProjects has no resource-level permissions.
  }

  statement {
    sid       = "SwitchTheEventFlow"
    actions   = ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"]
    resources = [local.mapping_arn]
  }

  statement {
    sid       = "SwitchPolling"
    actions   = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
    resources = [local.poll_arn]
  }

  statement {
    sid       = "PassTheInvokeRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.scheduler.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["scheduler.amazonaws.com"]
    }
  }

  statement {
    sid       = "CountJobsUsingTheModel"
    actions   = ["batch:DescribeJobs", "batch:ListJobs"]
    resources = ["*"] # ListJobs and DescribeJobs have no resource-level permissions.
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "schedule"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs; a VPC would need NAT or endpoints and adds nothing here.
  #checkov:skip=CKV_AWS_115:One invocation a minute at most; reserving concurrency fails on new accounts.
  #checkov:skip=CKV_AWS_173:The environment holds resource names only, no secrets; kms_key_arn encrypts it with a customer-managed key when given.
  #checkov:skip=CKV_AWS_272:Code is deployed from this repository by Terraform itself; code signing needs a signing profile per account.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not used by bucketlens; structured logs carry the run context.
  #checkov:skip=CKV_AWS_116:EventBridge Scheduler retries and has its own dead-letter option; a failed step is redone by the next poll.
  function_name     = var.name
  description       = "bucketlens: starts and stops the Custom Labels model on a schedule"
  role              = aws_iam_role.this.arn
  runtime           = var.runtime
  handler           = "lambda_submitter.scheduler.handler"
  s3_bucket         = var.package.bucket
  s3_key            = var.package.key
  s3_object_version = var.package.version
  source_code_hash  = base64encode(var.package_hash)
  kms_key_arn       = var.kms_key_arn
  memory_size       = 256
  timeout           = 60
  architectures     = [var.architecture]

  environment {
    variables = merge(
      {
        BUCKETLENS_PROJECT_VERSION_ARN       = var.project_version_arn
        BUCKETLENS_EVENT_SOURCE_MAPPING_UUID = var.event_source_mapping_uuid
        BUCKETLENS_POLL_SCHEDULE             = local.poll_name
        BUCKETLENS_JOB_QUEUE                 = var.job_queue_arn
        BUCKETLENS_MIN_INFERENCE_UNITS       = tostring(var.min_inference_units)
        BUCKETLENS_DRAIN_MINUTES             = tostring(var.drain_minutes)
      },
      var.max_inference_units == null ? {} : { BUCKETLENS_MAX_INFERENCE_UNITS = tostring(var.max_inference_units) },
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = merge(var.tags, { Name = var.name })

  depends_on = [aws_iam_role_policy.this]
}

# EventBridge Scheduler's own role: it may invoke the scheduler function, nothing else.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    sid     = "SchedulerAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name_prefix        = "${substr(var.name, 0, 28)}-invoke-"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json

  tags = merge(var.tags, { Name = "${var.name}-invoke" })
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeTheScheduleFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "start" {
  #checkov:skip=CKV_AWS_297:The input holds an action name only; set kms_key_arn for a customer-managed key.
  kms_key_arn                  = var.kms_key_arn
  name                         = "${var.name}-start"
  description                  = "bucketlens: start the Custom Labels model"
  schedule_expression          = var.start_schedule
  schedule_expression_timezone = var.timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ action = "start" })

    retry_policy {
      maximum_retry_attempts       = 5
      maximum_event_age_in_seconds = 3600
    }
  }
}

resource "aws_scheduler_schedule" "stop" {
  #checkov:skip=CKV_AWS_297:The input holds an action name only; set kms_key_arn for a customer-managed key.
  kms_key_arn                  = var.kms_key_arn
  name                         = "${var.name}-stop"
  description                  = "bucketlens: drain and stop the Custom Labels model"
  schedule_expression          = var.stop_schedule
  schedule_expression_timezone = var.timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ action = "stop" })

    retry_policy {
      maximum_retry_attempts       = 5
      maximum_event_age_in_seconds = 3600
    }
  }
}

# Enabled by the function while the model starts or drains, disabled by it when done.
resource "aws_scheduler_schedule" "poll" {
  #checkov:skip=CKV_AWS_297:The input holds an action name only; set kms_key_arn for a customer-managed key.
  kms_key_arn         = var.kms_key_arn
  name                = local.poll_name
  description         = "bucketlens: follow the Custom Labels model until it is RUNNING or STOPPED"
  schedule_expression = "rate(1 minute)"
  state               = "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ action = "poll", want = "RUNNING", deadline = null })

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 120
    }
  }

  lifecycle {
    ignore_changes = [state, target[0].input]
  }
}
