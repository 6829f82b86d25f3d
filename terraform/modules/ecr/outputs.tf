output "repository_arn" {
  description = "ARN of the worker image repository (the execution role pulls from it)."
  value       = aws_ecr_repository.this.arn
}

output "repository_name" {
  description = "Name of the worker image repository."
  value       = aws_ecr_repository.this.name
}

output "repository_url" {
  description = "URL to tag and push the worker image to."
  value       = aws_ecr_repository.this.repository_url
}

output "region" {
  description = "The region the repository is in: the deployment's, known as soon as this module is applied (make deploy's first, targeted apply)."
  value       = data.aws_region.current.name
}
