variable "region" {
  description = "AWS region of the images bucket."
  type        = string
}

variable "images_bucket_name" {
  description = "Existing bucket whose images are indexed."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (with NAT or VPC endpoints) for the Batch workers."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups allowing the workers outbound HTTPS."
  type        = list(string)
}

variable "compute_type" {
  description = "EC2, SPOT, FARGATE or FARGATE_SPOT."
  type        = string
  default     = "FARGATE_SPOT"
}

variable "max_vcpus" {
  description = "Most vCPUs the workers may use at once."
  type        = number
  default     = 64
}

variable "image_tag" {
  description = "Tag of the worker image pushed to the ECR repository."
  type        = string
  default     = "0.1.0"
}

variable "features" {
  description = "Comma-separated subset of labels,text,custom-labels."
  type        = string
  default     = "labels"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
