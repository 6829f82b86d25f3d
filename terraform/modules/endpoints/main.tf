# VPC endpoints for what runs in the VPC (the workers, and the submitter when it is there) where the
# subnets have no NAT: gateway endpoints (free) for S3 and DynamoDB on the route tables given, and interface
# endpoints (billed by the hour) for the services named, reachable on 443 from bucketlens' groups only.
data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_subnet" "each" {
  for_each = toset(var.subnet_ids)

  id = each.value
}

locals {
  vpc_id  = data.aws_subnet.each[var.subnet_ids[0]].vpc_id
  service = "${data.aws_partition.current.reverse_dns_prefix}.${data.aws_region.current.name}"
  # an interface endpoint takes at most one subnet per Availability Zone
  by_zone           = { for s in data.aws_subnet.each : s.availability_zone => s.id... }
  endpoint_subnets  = sort([for zone, ids in local.by_zone : sort(ids)[0]])
  gateway_services  = length(var.route_table_ids) > 0 ? toset(["s3", "dynamodb"]) : toset([])
  interface_service = toset(var.interface_services)
}

resource "aws_vpc_endpoint" "gateway" {
  for_each = local.gateway_services

  vpc_id            = local.vpc_id
  service_name      = "${local.service}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_security_group" "this" {
  count = length(local.interface_service) > 0 ? 1 : 0

  name_prefix = "${var.name}-endpoints-"
  description = "bucketlens interface endpoints: HTTPS from the workers and the submitter only"
  vpc_id      = local.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-endpoints" })

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = !var.gateways_required || length(var.route_table_ids) > 0
      error_message = "vpc_without_nat = true needs vpc_endpoint_route_table_ids: the subnets' route tables, for the S3 and DynamoDB gateway endpoints (ECR's image layers come from S3)."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = length(local.interface_service) > 0 ? var.client_security_groups : {}

  security_group_id            = aws_security_group.this[0].id
  description                  = "HTTPS from bucketlens ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.value

  tags = merge(var.tags, { Name = "${var.name}-endpoints-${each.key}" })
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_service

  vpc_id              = local.vpc_id
  service_name        = "${local.service}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.endpoint_subnets
  security_group_ids  = [aws_security_group.this[0].id]
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}
