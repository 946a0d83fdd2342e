# Managed PostgreSQL (RDS): the primary holds the platform schema and shard `main`;
# `shard_count` more instances become shards s2, s3, ... through SHARD_URLS, the
# application's own shard directory. With `citus_enabled` the primary is a Citus
# cluster instead (citus.tf) and no RDS instance is created.

locals {
  rds_enabled = !var.citus_enabled
}

resource "aws_db_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
}

# The settings of SERVER_SETTINGS in app/core/embedded.py: creating a tenant writes
# ~1.4 MB of WAL, and the default max_wal_size makes bulk provisioning checkpoint
# back to back. RDS takes max_wal_size in MB.
resource "aws_db_parameter_group" "main" {
  name   = "${local.name}-pg${var.db_engine_major_version}"
  family = "postgres${var.db_engine_major_version}"

  parameter {
    name  = "max_wal_size"
    value = tostring(var.db_max_wal_size_mb)
  }
  parameter {
    name  = "wal_compression"
    value = var.db_wal_compression
  }
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.db_log_min_duration_ms)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name = "${local.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# The primary (shard `main`, which also holds the platform schema) and the extra shards
# s2, s3, ... as SHARD_URLS expects: one instance each, all with the same settings.
locals {
  rds_instances = local.rds_enabled ? concat(["main"], [for i in range(var.shard_count) : "s${i + 2}"]) : []
}

resource "aws_db_instance" "postgres" {
  for_each                        = toset(local.rds_instances)
  identifier                      = "${local.name}-${each.key}"
  engine                          = "postgres"
  engine_version                  = var.db_engine_major_version
  auto_minor_version_upgrade      = true
  instance_class                  = var.db_instance_class
  allocated_storage               = var.db_allocated_storage_gb
  max_allocated_storage           = var.db_max_allocated_storage_gb
  storage_type                    = "gp3"
  storage_encrypted               = true
  db_name                         = var.db_name
  username                        = var.db_username
  password                        = random_password.database.result
  port                            = 5432
  multi_az                        = var.db_multi_az
  db_subnet_group_name            = aws_db_subnet_group.main.name
  vpc_security_group_ids          = [aws_security_group.database.id]
  parameter_group_name            = aws_db_parameter_group.main.name
  publicly_accessible             = false
  backup_retention_period         = var.db_backup_retention_days
  backup_window                   = var.db_backup_window
  maintenance_window              = var.db_maintenance_window
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${local.name}-${each.key}-final"
  performance_insights_enabled    = true
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
}

locals {
  database_host = var.citus_enabled ? aws_instance.citus_coordinator[0].private_ip : aws_db_instance.postgres["main"].address
  # sslmode=require: RDS is set to refuse plain connections (rds.force_ssl).
  database_url = format(
    "postgresql://%s:%s@%s:5432/%s?sslmode=%s",
    var.db_username, random_password.database.result, local.database_host, var.db_name,
    var.citus_enabled ? "prefer" : "require",
  )
  shard_urls = join(",", [
    for name, db in aws_db_instance.postgres :
    format("%s=postgresql://%s:%s@%s:5432/%s?sslmode=require", name, var.db_username, random_password.database.result, db.address, var.db_name)
    if name != "main"
  ])
}
