# The region, read from the provider: a targeted apply of this module (make deploy's first step) stores it
# in the root output `region`, which push and the other operator commands read.
data "aws_region" "current" {}

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = var.image_tag_mutability
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = var.name })
}

# Untagged images (superseded layers of a rebuilt tag) expire; every tagged image is kept.
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      }
      # No rule selects tagged images: a count or age rule could expire the tag the job definition runs
      # (tags are immutable git commits; remove old ones with `aws ecr batch-delete-image` when unused).
    ]
  })
}
