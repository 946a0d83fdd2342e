# ---------------------------------------------------------------- naming and region

variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "motcua"
}

variable "environment" {
  description = "Environment name (production, staging); part of every resource name."
  type        = string
  default     = "production"
}

variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "ap-southeast-1"
}

# ---------------------------------------------------------------- domains

variable "platform_domain" {
  description = "PLATFORM_DOMAIN: the city portal is <domain>, the console admin.<domain>, tenants <slug>.<domain>."
  type        = string
}

variable "dns_zone_name" {
  description = "Existing public Route 53 zone holding the platform's records; null means a zone named platform_domain."
  type        = string
  default     = null
}

variable "custom_domains" {
  description = "Units' own domains served by the platform; each gets an ACM certificate the unit validates in its own DNS."
  type        = list(string)
  default     = []
}

variable "custom_domain_validation_timeout" {
  description = "How long apply waits for a custom domain's certificate to be validated by its owner."
  type        = string
  default     = "45m"
}

# ---------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of the VPC; subnets are /20 blocks carved from it."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zone_count" {
  description = "Availability zones used (one public and one private subnet each)."
  type        = number
  default     = 2
  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 4
    error_message = "Use 2 to 4 zones: RDS and the load balancer need at least two."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, one zone's failure cuts egress) instead of one per zone."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------- PostgreSQL

variable "db_engine_major_version" {
  description = "PostgreSQL major version of RDS and its parameter group family; keep it equal to the Dockerfile's PG_MAJOR (pg_dump)."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class of the primary and of every extra shard."
  type        = string
  default     = "db.r6g.large"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage of each RDS instance, in GB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling of each RDS instance, in GB."
  type        = number
  default     = 1000
}

variable "db_multi_az" {
  description = "Run each RDS instance with a synchronous standby in another zone."
  type        = bool
  default     = true
}

variable "db_name" {
  description = "Database name on every PostgreSQL server."
  type        = string
  default     = "motcua"
}

variable "db_username" {
  description = "Master user of every PostgreSQL server (the application connects as it)."
  type        = string
  default     = "motcua"
}

variable "db_max_wal_size_mb" {
  description = "max_wal_size in MB; app/core/embedded.py SERVER_SETTINGS says 4GB (bulk tenant creation)."
  type        = number
  default     = 4096
}

variable "db_wal_compression" {
  description = "wal_compression; app/core/embedded.py SERVER_SETTINGS says pglz."
  type        = string
  default     = "pglz"
}

variable "db_log_min_duration_ms" {
  description = "Statements slower than this are logged to CloudWatch (log_min_duration_statement); -1 turns it off."
  type        = number
  default     = 500
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window)."
  type        = number
  default     = 14
}

variable "db_backup_window" {
  description = "Daily UTC window for RDS backups."
  type        = string
  default     = "18:00-19:00"
}

variable "db_maintenance_window" {
  description = "Weekly UTC window for RDS maintenance."
  type        = string
  default     = "sun:19:30-sun:20:30"
}

variable "db_pool_size" {
  description = "DB_POOL_SIZE: pooled connections per shard and process."
  type        = number
  default     = 5
}

variable "db_max_overflow" {
  description = "DB_MAX_OVERFLOW: extra connections per shard and process beyond the pool."
  type        = number
  default     = 5
}

variable "shard_count" {
  description = "Extra RDS instances, shards s2..s(N+1), passed as SHARD_URLS (the application's own shard directory)."
  type        = number
  default     = 0
}

variable "deletion_protection" {
  description = "Protect the RDS instances and the load balancer from deletion."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- Citus option

variable "citus_enabled" {
  description = "Replace RDS with a self-managed Citus cluster on EC2 (schema-based sharding); see README, section Citus."
  type        = bool
  default     = false
}

variable "citus_worker_count" {
  description = "Citus worker nodes (with citus_enabled)."
  type        = number
  default     = 2
}

variable "citus_instance_type" {
  description = "EC2 instance type of the Citus coordinator and workers."
  type        = string
  default     = "r6i.xlarge"
}

variable "citus_volume_size_gb" {
  description = "Encrypted gp3 volume size of each Citus node, in GB."
  type        = number
  default     = 200
}

variable "citus_package_version" {
  description = "Citus release of the postgresql-16-citus-<version> package."
  type        = string
  default     = "13.0"
}

# ---------------------------------------------------------------- Redis

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "redis_replica_count" {
  description = "Read replicas in other zones; more than 0 enables automatic failover."
  type        = number
  default     = 1
}

variable "redis_snapshot_retention_days" {
  description = "Days of daily Redis snapshots (queued jobs live in Redis)."
  type        = number
  default     = 7
}

variable "redis_snapshot_window" {
  description = "Daily UTC window for Redis snapshots."
  type        = string
  default     = "17:00-18:00"
}

# ---------------------------------------------------------------- storage

variable "attachments_infrequent_access_days" {
  description = "Days after which attachments move to S3 Standard-IA."
  type        = number
  default     = 90
}

variable "attachments_noncurrent_version_days" {
  description = "Days an overwritten or deleted attachment's old version is kept."
  type        = number
  default     = 365
}

# ---------------------------------------------------------------- containers

variable "image_tag" {
  description = "Tag of the application image (Dockerfile) in the ECR repository this configuration creates."
  type        = string
}

variable "web_port" {
  description = "Port gunicorn binds inside the web container."
  type        = number
  default     = 8000
}

variable "web_cpu" {
  description = "Fargate CPU units of a web task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "web_memory" {
  description = "Fargate memory of a web task, in MiB."
  type        = number
  default     = 2048
}

variable "web_gunicorn_workers" {
  description = "gunicorn worker processes per web task."
  type        = number
  default     = 2
}

variable "web_gunicorn_threads" {
  description = "gunicorn threads per worker process."
  type        = number
  default     = 4
}

variable "web_min_count" {
  description = "Fewest web tasks (also the initial count)."
  type        = number
  default     = 2
}

variable "web_max_count" {
  description = "Most web tasks autoscaling may run."
  type        = number
  default     = 10
}

variable "web_cpu_target_percent" {
  description = "Average CPU of the web tasks that autoscaling keeps."
  type        = number
  default     = 60
}

variable "web_requests_per_task_target" {
  description = "Load balancer requests per web task per minute that autoscaling keeps."
  type        = number
  default     = 3000
}

variable "worker_cpu" {
  description = "Fargate CPU units of a worker (and of the migrate task)."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Fargate memory of a worker (and of the migrate task), in MiB."
  type        = number
  default     = 2048
}

variable "worker_min_count" {
  description = "Fewest RQ worker tasks (also the initial count); at least 1, the scheduler runs in them."
  type        = number
  default     = 1
  validation {
    condition     = var.worker_min_count >= 1
    error_message = "At least one worker: provisioning, the outbox and scheduled jobs run there."
  }
}

variable "worker_max_count" {
  description = "Most RQ worker tasks autoscaling may run."
  type        = number
  default     = 6
}

variable "worker_cpu_target_percent" {
  description = "Average CPU of the worker tasks that autoscaling keeps."
  type        = number
  default     = 70
}

variable "log_level" {
  description = "LOG_LEVEL of the containers."
  type        = string
  default     = "INFO"
}

# ---------------------------------------------------------------- mail

variable "mail_smtp_host" {
  description = "MAIL_SMTP_HOST (invitations, confirmations); empty sends no mail (it would be written inside the container)."
  type        = string
}

variable "mail_smtp_port" {
  description = "MAIL_SMTP_PORT."
  type        = number
  default     = 587
}

variable "mail_smtp_user" {
  description = "MAIL_SMTP_USER."
  type        = string
  default     = ""
}

variable "mail_smtp_password" {
  description = "MAIL_SMTP_PASSWORD, stored in Secrets Manager; empty string if the server needs no login."
  type        = string
  sensitive   = true
}

variable "mail_smtp_starttls" {
  description = "MAIL_SMTP_STARTTLS."
  type        = bool
  default     = true
}

variable "mail_from" {
  description = "MAIL_FROM, the sender of the platform's mail; null means Motcua <no-reply@<platform_domain>>."
  type        = string
  default     = null
}

# ---------------------------------------------------------------- logs and alarms

variable "log_retention_days" {
  description = "Days CloudWatch keeps container and Redis logs, and S3 keeps load balancer access logs."
  type        = number
  default     = 90
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic; empty subscribes nobody."
  type        = string
  default     = ""
}

variable "alarm_5xx_per_5_minutes" {
  description = "5xx answers (and logged errors) per 5 minutes above which an alarm fires."
  type        = number
  default     = 10
}

variable "alarm_p95_latency_seconds" {
  description = "p95 response time of the web tasks above which an alarm fires."
  type        = number
  default     = 1
}

variable "alarm_db_free_storage_gb" {
  description = "Free storage of an RDS instance below which an alarm fires, in GB."
  type        = number
  default     = 20
}
