# Know that something is wrong without looking: alarms on the queues, the submitter and the metrics the
# worker and the fast path write as EMF lines (job/core/metrics.py), a rule that names every Batch child
# that fails for good, all to one SNS topic; and a dashboard of the same.
data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  topic_arn  = var.topic_arn != null ? var.topic_arn : aws_sns_topic.this[0].arn
  region     = data.aws_region.current.name
  dimensions = { Deployment = var.deployment }
  console    = data.aws_partition.current.partition == "aws-cn" ? "console.amazonaws.cn" : "console.aws.amazon.com"
  jobs_log   = "/aws/events/${var.name}-batch-jobs"
  alarms = {
    dead_letters = {
      description = "Events the submitter gave up on are in the dead-letter queue: see docs/operations.md, Alarms."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.dead_letter_queue_name }
      statistic   = "Maximum"
      period      = 300
      periods     = 1
      threshold   = 0
    }
    queue_age = {
      description = "The oldest event has waited longer than ${var.queue_age_seconds} s: the submitter is not keeping up or is switched off."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      dimensions  = { QueueName = var.queue_name }
      statistic   = "Maximum"
      period      = 300
      periods     = 1
      threshold   = var.queue_age_seconds
    }
    submitter_errors = {
      description = "The submitter Lambda failed: its log group says why."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = var.function_name }
      statistic   = "Sum"
      period      = 300
      periods     = 1
      threshold   = 0
    }
    submitter_throttles = {
      description = "Lambda throttled the submitter: the account's concurrency is used up."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = var.function_name }
      statistic   = "Sum"
      period      = 300
      periods     = 1
      threshold   = 0
    }
    images_errored = {
      description = "More than ${var.errors_per_hour} images ended as recorded errors in an hour: python -m job export lists them."
      namespace   = "bucketlens"
      metric      = "ImagesErrored"
      dimensions  = local.dimensions
      statistic   = "Sum"
      period      = 3600
      periods     = 1
      threshold   = var.errors_per_hour
    }
  }
}

resource "aws_sns_topic" "this" {
  #checkov:skip=CKV_AWS_26:Encrypted with kms_key_arn when given; AWS's own SNS key cannot be used, because CloudWatch alarms and EventBridge may not use it to publish.
  count = var.topic_arn == null ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn

  tags = merge(var.tags, { Name = "${var.name}-alarms" })
}

data "aws_iam_policy_document" "topic" {
  count = var.topic_arn == null ? 1 : 0

  statement {
    sid       = "AlarmsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${local.region}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*"]
    }
  }

  statement {
    sid       = "FailedBatchChildrenRulePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.failed.arn]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  count = var.topic_arn == null ? 1 : 0

  arn    = aws_sns_topic.this[0].arn
  policy = data.aws_iam_policy_document.topic[0].json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.topic_arn == null && var.email != null ? 1 : 0

  topic_arn = aws_sns_topic.this[0].arn
  protocol  = "email"
  endpoint  = var.email
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# The share of Rekognition calls throttled, from the worker's and the fast path's EMF metrics: a little
# is the limiter finding the quota; a lasting share means something else uses the account's quota.
# RekognitionCalls counts the calls that went through, so the share is of both: every call throttled reads
# 100 %, never a missing datapoint.
resource "aws_cloudwatch_metric_alarm" "rekognition_throttled" {
  alarm_name          = "${var.name}-rekognition-throttled"
  alarm_description   = "Over ${var.throttle_share_percent} % of Rekognition calls throttled for ${var.throttle_minutes} minutes: another application shares the quota, or rekognition_tps_quota is above the account's."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.throttle_share_percent
  evaluation_periods  = ceil(var.throttle_minutes / 5)
  datapoints_to_alarm = ceil(var.throttle_minutes / 5)
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]

  metric_query {
    id          = "share"
    expression  = "100 * FILL(throttles, 0) / (FILL(calls, 0) + FILL(throttles, 0))"
    label       = "throttled %"
    return_data = true
  }

  metric_query {
    id = "throttles"
    metric {
      namespace   = "bucketlens"
      metric_name = "RekognitionThrottles"
      dimensions  = local.dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "calls"
    metric {
      namespace   = "bucketlens"
      metric_name = "RekognitionCalls"
      dimensions  = local.dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-rekognition-throttled" })
}

# A child that failed for good (its retries spent): which job, which child, why, and where its log is.
resource "aws_cloudwatch_event_rule" "failed" {
  name        = "${var.name}-batch-failed"
  description = "bucketlens: a Batch job or child of ${var.name} ended FAILED"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = var.job_queue_arns
    }
  })

  tags = merge(var.tags, { Name = "${var.name}-batch-failed" })
}

resource "aws_cloudwatch_event_target" "failed" {
  rule = aws_cloudwatch_event_rule.failed.name
  arn  = local.topic_arn

  input_transformer {
    input_paths = {
      job    = "$.detail.jobName"
      id     = "$.detail.jobId"
      index  = "$.detail.arrayProperties.index"
      reason = "$.detail.statusReason"
      stream = "$.detail.container.logStreamName"
    }
    input_template = "\"bucketlens ${var.name}: Batch job <job> (<id>), child <index>, FAILED: <reason>. Log stream: <stream> in ${var.job_log_group_name}. make logs JOB=<id> shows it.\""
  }
}

# Every state change of the queue's jobs, kept for the dashboard's count by status.
resource "aws_cloudwatch_log_group" "jobs" {
  #checkov:skip=CKV_AWS_338:Job state changes are kept log_retention_days; a year is cost without use for most teams.
  name              = local.jobs_log
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = merge(var.tags, { Name = local.jobs_log })
}

# What EventBridge needs to write to the log group, as AWS's own pattern grants it (aws-samples/
# serverless-patterns, eventbridge-cloudwatch): CreateLogStream unconditioned (EventBridge creates the
# stream without naming the rule), PutLogEvents from this rule only. The root module puts this into the
# deployment's one CloudWatch Logs resource policy (a region holds 10, a quota that cannot be raised).
data "aws_iam_policy_document" "jobs_log" {
  statement {
    sid       = "EventBridgeCreatesJobStateStreams"
    actions   = ["logs:CreateLogStream"]
    resources = ["${aws_cloudwatch_log_group.jobs.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
  }

  statement {
    sid       = "EventBridgeWritesJobStateChanges"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.jobs.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.jobs.arn]
    }
  }
}

resource "aws_cloudwatch_event_rule" "jobs" {
  name        = "${var.name}-batch-jobs"
  description = "bucketlens: every state change of ${var.name}'s Batch jobs, for the dashboard"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail        = { jobQueue = var.job_queue_arns }
  })

  tags = merge(var.tags, { Name = "${var.name}-batch-jobs" })
}

resource "aws_cloudwatch_event_target" "jobs" {
  rule = aws_cloudwatch_event_rule.jobs.name
  arn  = aws_cloudwatch_log_group.jobs.arn

  depends_on = [var.log_resource_policy_ready]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Images", region = local.region, stat = "Sum", period = 300, view = "timeSeries"
          metrics = [for m in ["ImagesDone", "ImagesErrored", "ImagesSkipped", "ImagesLeftForRetry"] : ["bucketlens", m, "Deployment", var.deployment]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Fast path and Batch (images done)", region = local.region, stat = "Sum", period = 300
          metrics = [for p in ["fast_path", "batch"] : ["bucketlens", "ImagesDone", "Deployment", var.deployment, "Path", p]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title = "Rekognition calls and throttles by operation", region = local.region, period = 300
          metrics = [for m in ["RekognitionCalls", "RekognitionThrottles"] : [{
            expression = "SEARCH('{bucketlens,Deployment,Operation} Deployment=\"${var.deployment}\" MetricName=\"${m}\"', 'Sum', 300)"
            id         = lower(m)
          }]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Per-image latency", region = local.region, period = 300
          metrics = [for s in ["p50", "p99"] : ["bucketlens", "ImageLatency", "Deployment", var.deployment, { stat = s, label = s }]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title = "Queues", region = local.region, stat = "Maximum", period = 300
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dead_letter_queue_name],
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name, { yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title = "Submitter and the shared quota", region = local.region, stat = "Sum", period = 300
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", var.function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", var.function_name],
            ["bucketlens", "LimiterWaits", "Deployment", var.deployment],
          ]
        }
      },
      {
        type = "log", x = 0, y = 18, width = 24, height = 6
        properties = {
          title  = "Batch jobs and children by status (last state seen)"
          region = local.region
          view   = "table"
          query  = "SOURCE '${local.jobs_log}' | stats latest(detail.status) as status by detail.jobId | stats count(*) as jobs by status"
        }
      },
    ]
  })
}
