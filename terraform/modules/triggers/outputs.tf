output "queue_arn" {
  description = "ARN of the queue that receives the images bucket's events."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the queue that receives the images bucket's events."
  value       = aws_sqs_queue.this.id
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue for events that failed max_receive_count times."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (inspect or redrive from here)."
  value       = aws_sqs_queue.dead_letter.id
}

output "images_bucket_arn" {
  description = "ARN of the images bucket."
  value       = data.aws_s3_bucket.images.arn
}

output "notification_suffixes" {
  description = "Key suffixes whose create/remove events reach the queue."
  value       = local.suffixes
}

output "inventory_bucket_name" {
  description = "Bucket receiving S3 Inventory reports (null when inventory is disabled)."
  value       = var.enable_inventory ? aws_s3_bucket.inventory[0].id : null
}

output "inventory_bucket_arn" {
  description = "ARN of the inventory bucket (null when inventory is disabled)."
  value       = var.enable_inventory ? aws_s3_bucket.inventory[0].arn : null
}

output "event_route" {
  description = "How the bucket's events reach the queue: eventbridge or notification."
  value       = var.event_route
}

output "bucket_eventbridge_step" {
  description = "The one step left to start the events (null when Terraform did everything)."
  value       = var.event_route == "eventbridge" && !var.manage_bucket_eventbridge ? "python -m lambda_submitter eventbridge --bucket ${var.images_bucket_name}" : null
}
