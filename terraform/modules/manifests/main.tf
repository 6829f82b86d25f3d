resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logs need a second log bucket; manifests are written only by bucketlens roles and CloudTrail covers data events when wanted.
  #checkov:skip=CKV_AWS_144:Manifests are short-lived derived data that the submitter regenerates; cross-region replication would double cost for nothing.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from this bucket; Batch jobs are submitted directly by the submitter.
  bucket        = var.bucket_name
  bucket_prefix = var.bucket_name == null ? var.bucket_prefix : null
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = coalesce(var.bucket_name, "${var.bucket_prefix}*") })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default to avoid a per-deployment KMS key; set kms_key_arn for SSE-KMS.
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-manifests"
    status = "Enabled"

    filter {
      prefix = "${var.manifests_prefix}/"
    }

    expiration {
      days = var.expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expiry_days
    }
  }

  rule {
    id     = "expire-runs"
    status = "Enabled"

    filter {
      prefix = "${var.runs_prefix}/"
    }

    expiration {
      days = var.expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expiry_days
    }
  }

  # Previews (thumbnails/) are kept as long as their images' results; a rewritten one leaves only a
  # noncurrent version behind, which goes.
  rule {
    id     = "expire-replaced-previews"
    status = "Enabled"

    filter {
      prefix = "thumbnails/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expiry_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
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

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
