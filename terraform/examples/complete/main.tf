# A complete deployment: the root module with Fargate Spot workers and daily inventory backfills.
module "bucketlens" {
  source = "../.."

  region             = var.region
  images_bucket_name = var.images_bucket_name
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  compute_type = var.compute_type
  max_vcpus    = var.max_vcpus
  image_tag    = var.image_tag
  features     = var.features

  inventory_frequency = "Daily"
  tags                = var.tags
}
