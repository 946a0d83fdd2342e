output "load_balancer_dns_name" {
  description = "DNS name of the load balancer; units' custom domains get a CNAME to it."
  value       = aws_lb.main.dns_name
}

output "platform_urls" {
  description = "The city portal, the provider console and the pattern of tenant portals."
  value = {
    city_portal = "https://${var.platform_domain}/"
    console     = "https://admin.${var.platform_domain}/"
    tenants     = "https://<slug>.${var.platform_domain}/"
  }
}

output "custom_domain_validation_records" {
  description = "Per custom domain, the DNS record its owner must publish for the certificate to be issued."
  value = {
    for domain, cert in aws_acm_certificate.custom : domain => [
      for o in cert.domain_validation_options : {
        name  = o.resource_record_name
        type  = o.resource_record_type
        value = o.resource_record_value
      }
    ]
  }
}

output "ecr_repository_url" {
  description = "Where to push the application image (tag it with image_tag)."
  value       = aws_ecr_repository.app.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster running the web and worker services."
  value       = aws_ecs_cluster.main.name
}

output "migrate_task_definition_arn" {
  description = "One-off task running flask tenants migrate; run it before rolling out a new image."
  value       = aws_ecs_task_definition.app["migrate"].arn
}

output "private_subnet_ids" {
  description = "Private subnets, for aws ecs run-task --network-configuration of the migrate task."
  value       = aws_subnet.private[*].id
}

output "app_security_group_id" {
  description = "Security group of the containers, for the migrate task."
  value       = aws_security_group.app.id
}

output "database_endpoint" {
  description = "Host of the primary PostgreSQL (RDS, or the Citus coordinator with citus_enabled)."
  value       = local.database_host
}

output "shard_endpoints" {
  description = "Hosts of the extra RDS shards, by shard name (s2, s3, ...)."
  value       = { for name, db in aws_db_instance.postgres : name => db.address if name != "main" }
}

output "redis_endpoint" {
  description = "Primary endpoint of the Redis replication group (TLS, auth token)."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "attachments_bucket" {
  description = "S3 bucket for attachments (for the S3 storage adapter; not yet read by the application)."
  value       = aws_s3_bucket.attachments.id
}

output "data_file_system_id" {
  description = "EFS file system mounted at /data in every container (STORAGE_DIR, ARCHIVE_DIR)."
  value       = aws_efs_file_system.data.id
}

output "secret_arns" {
  description = "Secrets Manager ARNs by environment variable name (SECRET_KEY, DATABASE_URL, REDIS_URL, ...)."
  value       = { for name, s in aws_secretsmanager_secret.app : name => s.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "log_groups" {
  description = "CloudWatch log groups by process (web, worker, migrate)."
  value       = { for k, g in aws_cloudwatch_log_group.app : k => g.name }
}
