output "table_name" {
  description = "Results table name (BUCKETLENS_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "Results table ARN, for IAM policies."
  value       = aws_dynamodb_table.this.arn
}
