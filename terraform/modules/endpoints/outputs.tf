output "gateway_endpoint_ids" {
  description = "The S3 and DynamoDB gateway endpoints, by service."
  value       = { for k, e in aws_vpc_endpoint.gateway : k => e.id }
}

output "interface_endpoint_ids" {
  description = "The interface endpoints, by service."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}

output "security_group_id" {
  description = "The interface endpoints' security group (null without interface endpoints)."
  value       = one(aws_security_group.this[*].id)
}
