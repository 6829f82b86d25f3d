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
