# The key schema is the one `python -m job setup` creates: one item per object, keyed by bucket then key.
resource "aws_dynamodb_table" "this" {
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "bucket"
  range_key                   = "key"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "bucket"
    type = "S"
  }

  attribute {
    name = "key"
    type = "S"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = var.name })
}

# The label index (job/core/label_index.py): one row per (label, image), so "label L at >= C" is a Query.
resource "aws_dynamodb_table" "labels" {
  name                        = "${var.name}-labels"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "label"
  range_key                   = "ref"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "label"
    type = "S"
  }

  attribute {
    name = "ref"
    type = "S"
  }

  attribute {
    name = "confidence"
    type = "N"
  }

  local_secondary_index {
    name            = "by_confidence"
    range_key       = "confidence"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_ref"
    hash_key        = "ref"
    projection_type = "KEYS_ONLY"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = "${var.name}-labels" })
}

# The shared Rekognition quota (job/core/quota.py): a row per user of an operation, refreshed every 5 s,
# expiring by itself; every child of every job reads the live rows and takes its share.
resource "aws_dynamodb_table" "limiter" {
  #checkov:skip=CKV_AWS_28:Rows live 15 seconds and are rewritten every 5; there is nothing to recover.
  #checkov:skip=CKV2_AWS_16:On-demand billing: there is no provisioned capacity to auto-scale.
  name         = "${var.name}-limiter"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "operation"
  range_key    = "user"

  attribute {
    name = "operation"
    type = "S"
  }

  attribute {
    name = "user"
    type = "S"
  }

  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = "${var.name}-limiter" })
}
