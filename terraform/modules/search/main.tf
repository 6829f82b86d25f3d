# Optional OpenSearch for bucketlens: create a domain (encrypted, HTTPS only, fine-grained access with
# IAM, inside the VPC) or use an existing one; either way the worker and the submitter get exactly the
# HTTP actions their code sends (job/worker/opensearch_sink.py, job/commands/opensearch_search.py, lambda_submitter/search_delete.py).
locals {
  domain_arn = var.create_domain ? aws_opensearch_domain.this[0].arn : var.existing_domain_arn
  endpoint   = var.create_domain ? "https://${aws_opensearch_domain.this[0].endpoint}" : var.existing_endpoint
  # A created domain without a given master user gets its own: the setup function's role, which nothing
  # else assumes. The workers (untrusted images, native decoders) are never the master user.
  admin         = var.create_domain && var.master_user_arn == null
  setup_name    = "${var.domain_name}-setup"
  setup_log     = "/aws/lambda/${local.setup_name}"
  client_groups = merge(var.client_security_groups, local.admin ? { setup = aws_security_group.setup[0].id } : {})
}

data "aws_iam_policy_document" "access" {
  count = var.create_domain ? 1 : 0

  statement {
    sid     = "BucketlensRoles"
    actions = ["es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"] # roles' own policies decide
    }
    resources = ["arn:${data.aws_partition.current.partition}:es:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:domain/${var.domain_name}/*"]
  }
}

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

resource "aws_cloudwatch_log_group" "audit" {
  #checkov:skip=CKV_AWS_338:Audit logs are kept log_retention_days; a year is cost without use for most teams.
  count = var.create_domain ? 1 : 0

  name              = "/aws/opensearch/${var.domain_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = var.domain_name })
}

data "aws_iam_policy_document" "logs" {
  count = var.create_domain ? 1 : 0

  statement {
    sid       = "OpenSearchWritesLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.audit[0].arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# OpenSearch needs its service-linked role to place a domain in a VPC ("must enable a service-linked role
# ... to access your VPC"); the role is account-global, so it is created only when asked.
resource "aws_iam_service_linked_role" "opensearch" {
  count = var.create_domain && var.create_service_linked_role ? 1 : 0

  aws_service_name = "opensearchservice.amazonaws.com"
  description      = "Lets Amazon OpenSearch Service place domains in VPCs (created by bucketlens)"
}

data "aws_subnet" "first" {
  count = var.create_domain ? 1 : 0

  id = var.subnet_ids[0]
}

# The domain's own group: HTTPS in from its clients' groups only, nothing else in, nothing out.
resource "aws_security_group" "domain" {
  count = var.create_domain ? 1 : 0

  name_prefix = "${var.domain_name}-"
  description = "bucketlens OpenSearch domain: HTTPS from the workers and the submitter only"
  vpc_id      = data.aws_subnet.first[0].vpc_id

  tags = merge(var.tags, { Name = "${var.domain_name}-domain" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = var.create_domain ? local.client_groups : {}

  security_group_id            = aws_security_group.domain[0].id
  description                  = "HTTPS from bucketlens ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.value

  tags = merge(var.tags, { Name = "${var.domain_name}-https-${each.key}" })
}

resource "aws_opensearch_domain" "this" {
  #checkov:skip=CKV_AWS_318:Dedicated masters are sized by var.dedicated_master_count; a small index does not need three.
  #checkov:skip=CKV2_AWS_59:Zone awareness follows var.instance_count (on with two or more nodes).
  count = var.create_domain ? 1 : 0

  domain_name    = var.domain_name
  engine_version = var.engine_version

  cluster_config {
    instance_type            = var.instance_type
    instance_count           = var.instance_count
    zone_awareness_enabled   = var.instance_count > 1
    dedicated_master_enabled = var.dedicated_master_count > 0
    dedicated_master_count   = var.dedicated_master_count > 0 ? var.dedicated_master_count : null
    dedicated_master_type    = var.dedicated_master_count > 0 ? var.instance_type : null

    dynamic "zone_awareness_config" {
      for_each = var.instance_count > 1 ? [1] : []
      content {
        availability_zone_count = min(3, var.instance_count)
      }
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_size = var.volume_size
    volume_type = "gp3"
  }

  encrypt_at_rest {
    enabled    = true
    kms_key_id = var.kms_key_arn
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-2019-07"
  }

  advanced_security_options {
    enabled                        = true
    anonymous_auth_enabled         = false
    internal_user_database_enabled = false
    master_user_options {
      master_user_arn = local.admin ? aws_iam_role.admin[0].arn : var.master_user_arn
    }
  }

  vpc_options {
    subnet_ids         = slice(var.subnet_ids, 0, min(length(var.subnet_ids), var.instance_count > 1 ? min(3, var.instance_count) : 1))
    security_group_ids = [aws_security_group.domain[0].id]
  }

  log_publishing_options {
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.audit[0].arn
    log_type                 = "AUDIT_LOGS"
    enabled                  = true
  }

  access_policies = data.aws_iam_policy_document.access[0].json

  tags = merge(var.tags, { Name = var.domain_name })

  depends_on = [var.log_resource_policy_ready, aws_iam_service_linked_role.opensearch]
}

# --- The master user, and the one-shot setup it runs -------------------------------------------------
# lambda_submitter.search_setup (the submitter's zip) maps bucketlens' OpenSearch roles to their IAM roles
# (writer: the workers, deleter: the submitter, reader: reader_arns) and switches the Security plugin's
# audit logging on. Terraform invokes it when the domain, the code or the mapping changes.
data "aws_iam_policy_document" "lambda_assume" {
  count = local.admin ? 1 : 0

  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "admin" {
  count = local.admin ? 1 : 0

  name_prefix        = "${var.domain_name}-admin-"
  description        = "bucketlens: the search domain's master user; only its setup function assumes it"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume[0].json

  tags = merge(var.tags, { Name = "${var.domain_name}-admin" })
}

data "aws_iam_policy_document" "admin" {
  #checkov:skip=CKV_AWS_111:The only unconstrained writes are the network-interface actions a function in a VPC needs (AWSLambdaVPCAccessExecutionRole's); EC2 gives them no resource-level permissions.
  #checkov:skip=CKV_AWS_356:Resource "*" only for those network-interface actions, which have no resource-level permissions; the domain's actions name the domain.
  count = local.admin ? 1 : 0

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.setup[0].arn}:*"]
  }

  # what lambda_submitter/search_setup.py sends: GET and PUT on the Security plugin's REST API
  statement {
    sid       = "ManageTheSecurityPlugin"
    actions   = ["es:ESHttpGet", "es:ESHttpPut"]
    resources = ["${aws_opensearch_domain.this[0].arn}/*"]
  }

  statement {
    sid = "PlaceNetworkInterfacesInTheVpc"
    actions = [
      "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
      "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"] # EC2's describe actions have no resource-level permissions (AWSLambdaVPCAccessExecutionRole)
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseTheDeploymentKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "admin" {
  count = local.admin ? 1 : 0

  name   = "search-setup"
  role   = aws_iam_role.admin[0].id
  policy = data.aws_iam_policy_document.admin[0].json
}

resource "aws_cloudwatch_log_group" "setup" {
  #checkov:skip=CKV_AWS_338:Setup logs are kept log_retention_days; a year is cost without use for most teams.
  count = local.admin ? 1 : 0

  name              = local.setup_log
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = local.setup_log })
}

# The setup function's own group: HTTPS out to the domain, nothing in.
resource "aws_security_group" "setup" {
  count = local.admin ? 1 : 0

  name_prefix = "${local.setup_name}-"
  description = "bucketlens search setup: HTTPS to the search domain only"
  vpc_id      = data.aws_subnet.first[0].vpc_id

  tags = merge(var.tags, { Name = local.setup_name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "setup" {
  count = local.admin ? 1 : 0

  security_group_id            = aws_security_group.setup[0].id
  description                  = "HTTPS to the search domain"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.domain[0].id

  tags = merge(var.tags, { Name = "${local.setup_name}-https" })
}

resource "aws_lambda_function" "setup" {
  #checkov:skip=CKV_AWS_115:Invoked once per deployment change; reserving concurrency fails on new accounts.
  #checkov:skip=CKV_AWS_173:The environment holds the domain's endpoint only; kms_key_arn encrypts it when given.
  #checkov:skip=CKV_AWS_272:Code is deployed from this repository by Terraform itself; code signing needs a signing profile per account.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not used by bucketlens; structured logs carry the run context.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Terraform, which reports a failure; there is nothing to redrive.
  count = local.admin ? 1 : 0

  function_name     = local.setup_name
  description       = "bucketlens: maps the search domain's roles and switches audit logging on (as its master user)"
  role              = aws_iam_role.admin[0].arn
  runtime           = var.runtime
  handler           = "lambda_submitter.search_setup.handler"
  s3_bucket         = var.package.bucket
  s3_key            = var.package.key
  s3_object_version = var.package.version
  source_code_hash  = base64encode(var.package_hash)
  kms_key_arn       = var.kms_key_arn
  memory_size       = 256
  timeout           = 120
  architectures     = [var.architecture]

  vpc_config {
    subnet_ids         = aws_opensearch_domain.this[0].vpc_options[0].subnet_ids
    security_group_ids = [aws_security_group.setup[0].id]
  }

  environment {
    variables = { BUCKETLENS_OPENSEARCH_ENDPOINT = local.endpoint }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.setup[0].name
  }

  tags = merge(var.tags, { Name = local.setup_name })

  depends_on = [aws_iam_role_policy.admin]
}

resource "aws_lambda_invocation" "setup" {
  count = local.admin ? 1 : 0

  function_name = aws_lambda_function.setup[0].function_name
  input         = jsonencode({ index = var.index, grants = var.grants })

  triggers = {
    domain = aws_opensearch_domain.this[0].arn
    code   = var.package_hash
  }
}
