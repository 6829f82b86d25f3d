variable "name" {
  description = "Prefix of the endpoints' and their security group's names."
  type        = string
  default     = "bucketlens"
}

variable "subnet_ids" {
  description = "The subnets bucketlens runs in (the first one's VPC gets the endpoints; one subnet per zone carries the interface endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one subnet."
  }
}

variable "route_table_ids" {
  description = "Route tables of those subnets: S3 and DynamoDB gateway endpoints are added to them (none when empty)."
  type        = list(string)
  default     = []
}

variable "interface_services" {
  description = "Services to reach through interface endpoints, by their endpoint name (batch, sqs, servicequotas, rekognition, sts, logs, ecr.api, ecr.dkr, secretsmanager, kms, and ecs, ecs-agent, ecs-telemetry for the ECS agent of EC2 and Spot instances)."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([for s in var.interface_services : contains(
      ["batch", "sqs", "servicequotas", "rekognition", "sts", "logs", "ecr.api", "ecr.dkr", "secretsmanager", "kms", "ecs", "ecs-agent", "ecs-telemetry"], s
    )])
    error_message = "interface_services: choose among batch, sqs, servicequotas, rekognition, sts, logs, ecr.api, ecr.dkr, secretsmanager, kms, ecs, ecs-agent and ecs-telemetry."
  }
}

variable "gateways_required" {
  description = "The subnets have no NAT: the S3 and DynamoDB gateway endpoints are needed, so route_table_ids must be given."
  type        = bool
  default     = false
}

variable "client_security_groups" {
  description = "Security groups of what uses the interface endpoints, by a name known at plan: their group admits HTTPS (443) from these only."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
