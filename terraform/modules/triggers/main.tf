data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_s3_bucket" "images" {
  bucket = var.images_bucket_name
}

locals {
  # S3 suffix filters are case-sensitive: cameras often write upper-case extensions.
  suffixes = distinct(flatten([for e in var.extensions : [".${e}", ".${upper(e)}"]]))
  # Lifecycle expirations are removals too: without them an expired image keeps its "done" result.
  events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"]
  # With EventBridge, Terraform writes the bucket's notification configuration only when asked to.
  write_bucket_notification = var.event_route == "notification" || var.manage_bucket_eventbridge
  # Known before the queue exists, so its policy is set at creation (one propagation wait, not two).
  queue_name = "${var.name}-events"
  queue_arn  = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.queue_name}"
}

resource "aws_sqs_queue" "dead_letter" {
  name                              = "${var.name}-events-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  tags = merge(var.tags, { Name = "${var.name}-events-dlq" })
}

resource "aws_sqs_queue" "this" {
  name                       = local.queue_name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  # with a customer-managed key, S3 and EventBridge encrypt what they send with it: the key policy names them
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
  policy = data.aws_iam_policy_document.queue.json

  tags = merge(var.tags, { Name = local.queue_name })
}

data "aws_iam_policy_document" "queue" {
  dynamic "statement" {
    for_each = var.event_route == "eventbridge" ? [1] : []
    content {
      sid       = "AllowImagesBucketEventBridgeRule"
      actions   = ["sqs:SendMessage"]
      resources = [local.queue_arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [local.rule_arn]
      }
    }
  }

  statement {
    sid       = "AllowImagesBucketEvents"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [data.aws_s3_bucket.images.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# Replaces the bucket's whole notification configuration (S3 keeps one per bucket): see var.event_route.
resource "aws_s3_bucket_notification" "images" {
  count = local.write_bucket_notification ? 1 : 0

  bucket      = data.aws_s3_bucket.images.id
  eventbridge = var.event_route == "eventbridge"

  dynamic "queue" {
    for_each = var.event_route == "notification" ? local.suffixes : []
    content {
      id            = "${var.name}-${replace(queue.value, ".", "")}"
      queue_arn     = aws_sqs_queue.this.arn
      events        = local.events
      filter_suffix = queue.value
    }
  }
}

# --- EventBridge route: S3 sends every event of the bucket to the default bus; this rule picks ours ---

locals {
  rule_name = "${var.name}-images-events"
  rule_arn  = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/${local.rule_name}"
}

resource "aws_cloudwatch_event_rule" "images" {
  count = var.event_route == "eventbridge" ? 1 : 0

  name        = local.rule_name
  description = "Object Created / Object Deleted (deletes and lifecycle expirations) of ${var.images_bucket_name}'s images to the events queue"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail = {
      bucket = { name = [var.images_bucket_name] }
      object = { key = [for s in local.suffixes : { suffix = s }] }
    }
  })

  tags = merge(var.tags, { Name = local.rule_name })
}

resource "aws_cloudwatch_event_target" "images" {
  count = var.event_route == "eventbridge" ? 1 : 0

  rule      = aws_cloudwatch_event_rule.images[0].name
  target_id = "events-queue"
  arn       = aws_sqs_queue.this.arn
}

# --- S3 Inventory: periodic full listings that the submitter turns into backfills ---

resource "aws_s3_bucket" "inventory" {
  #checkov:skip=CKV_AWS_18:Only S3 Inventory writes here and only the submitter reads; access logs would need another bucket.
  #checkov:skip=CKV_AWS_144:Inventory reports are regenerated by S3 on schedule; replication adds cost for nothing.
  #checkov:skip=CKV_AWS_145:S3 Inventory delivers with SSE-S3 here; SSE-KMS would need a key policy for the S3 service.
  count = var.enable_inventory ? 1 : 0

  bucket_prefix = var.inventory_bucket_prefix
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = "${var.name}-inventory" })
}

resource "aws_s3_bucket_ownership_controls" "inventory" {
  count = var.enable_inventory ? 1 : 0

  bucket = aws_s3_bucket.inventory[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "inventory" {
  count = var.enable_inventory ? 1 : 0

  bucket                  = aws_s3_bucket.inventory[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "inventory" {
  count = var.enable_inventory ? 1 : 0

  bucket = aws_s3_bucket.inventory[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "inventory" {
  #checkov:skip=CKV_AWS_145:SSE-S3 unless kms_key_arn is given (then SSE-KMS with it; S3 Inventory needs the key policy statement in docs/deployment.md).
  count = var.enable_inventory ? 1 : 0

  bucket = aws_s3_bucket.inventory[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "inventory" {
  count = var.enable_inventory ? 1 : 0

  bucket = aws_s3_bucket.inventory[0].id

  rule {
    id     = "expire-reports"
    status = "Enabled"

    filter {}

    expiration {
      days = var.inventory_expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.inventory]
}

data "aws_iam_policy_document" "inventory" {
  count = var.enable_inventory ? 1 : 0

  statement {
    sid       = "AllowInventoryDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.inventory[0].arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [data.aws_s3_bucket.images.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.inventory[0].arn,
      "${aws_s3_bucket.inventory[0].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "inventory" {
  count = var.enable_inventory ? 1 : 0

  bucket = aws_s3_bucket.inventory[0].id
  policy = data.aws_iam_policy_document.inventory[0].json

  depends_on = [aws_s3_bucket_public_access_block.inventory]
}

resource "aws_s3_bucket_inventory" "this" {
  count = var.enable_inventory ? 1 : 0

  bucket                   = data.aws_s3_bucket.images.id
  name                     = var.name
  included_object_versions = "Current"
  optional_fields          = ["Size", "LastModifiedDate", "ETag"]

  schedule {
    frequency = var.inventory_frequency
  }

  destination {
    bucket {
      format     = var.inventory_format
      bucket_arn = aws_s3_bucket.inventory[0].arn
      prefix     = "inventory"

      encryption {
        dynamic "sse_s3" {
          for_each = var.kms_key_arn == null ? [1] : []
          content {}
        }

        dynamic "sse_kms" {
          for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
          content {
            key_id = sse_kms.value
          }
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_policy.inventory]
}

resource "aws_s3_bucket_notification" "inventory" {
  count = var.enable_inventory ? 1 : 0

  bucket = aws_s3_bucket.inventory[0].id

  lambda_function {
    id                  = "${var.name}-inventory-manifest"
    lambda_function_arn = var.submitter_function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "inventory/"
    filter_suffix       = "manifest.json"
  }
}
