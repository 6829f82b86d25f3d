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

# The label index (job/core/label_index.py): one row per (label, image) under `label#shard`, sorted by
# confidence, so "label L at >= C" is one Query per shard. No local secondary index: an LSI caps each
# partition key at 10 GB, which stopped a common label at about 15 M images.
resource "aws_dynamodb_table" "label_index" {
  name                        = "${var.name}-label-index"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "ref"
    type = "S"
  }

  global_secondary_index {
    name               = "by_ref"
    hash_key           = "ref"
    projection_type    = "INCLUDE"
    non_key_attributes = ["etag"]
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = "${var.name}-label-index" })
}

# The label table of earlier versions (`<name>-labels`, with the LSI) is left in place, not destroyed: it
# may have deletion protection, and searches use the new table as soon as `python -m job reindex` has
# filled it. Delete the old one by hand afterwards (docs/search-and-reports.md: Upgrading the label index).
removed {
  from = aws_dynamodb_table.labels

  lifecycle {
    destroy = false
  }
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
