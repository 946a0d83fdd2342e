# The processes of the Procfile as ECS Fargate services, one image (Dockerfile):
#   web     gunicorn wsgi:app behind the load balancer, autoscaled on CPU and requests
#   worker  flask jobs worker --with-scheduler (RQ), autoscaled on CPU
#   migrate flask tenants migrate, a one-off task run before each release (README)

resource "aws_ecr_repository" "app" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecs_cluster" "main" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# ---------------------------------------------------------------- IAM

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Used by ECS itself: pull the image, write logs, read the secrets into the environment.
resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  name = "read-app-secrets"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [for s in aws_secretsmanager_secret.app : s.arn]
    }]
  })
}

# Used by the application: the shared file system, and the attachments bucket for
# the S3 storage adapter once it exists.
resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "task" {
  name = "app"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = "${aws_s3_bucket.attachments.arn}/*"
      },
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = aws_s3_bucket.attachments.arn
      },
      {
        Effect   = "Allow"
        Action   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource = aws_efs_file_system.data.arn
        Condition = {
          StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.data.arn }
        }
      },
    ]
  })
}

# ---------------------------------------------------------------- task definitions

locals {
  image = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"

  # Only settings app/core/config.py Settings.from_env reads; secrets come separately.
  app_environment = [for k, v in merge(
    {
      PLATFORM_DOMAIN       = var.platform_domain
      SESSION_COOKIE_SECURE = "1"
      PROXY_HOPS            = "1" # the load balancer
      LOG_LEVEL             = var.log_level
      LOG_FORMAT            = "json"
      STORAGE_DIR           = "/data/storage"
      ARCHIVE_DIR           = "/data/archives"
      DB_POOL_SIZE          = tostring(var.db_pool_size)
      DB_MAX_OVERFLOW       = tostring(var.db_max_overflow)
    },
    var.mail_smtp_host == "" ? {} : {
      MAIL_SMTP_HOST     = var.mail_smtp_host
      MAIL_SMTP_PORT     = tostring(var.mail_smtp_port)
      MAIL_SMTP_USER     = var.mail_smtp_user
      MAIL_SMTP_STARTTLS = var.mail_smtp_starttls ? "1" : "0"
      MAIL_FROM          = coalesce(var.mail_from, "Motcua <no-reply@${var.platform_domain}>")
    },
  ) : { name = k, value = v }]

  app_secrets = [for name, secret in aws_secretsmanager_secret.app : { name = name, valueFrom = secret.arn }]

  containers = {
    web = {
      command = [
        "gunicorn", "wsgi:app",
        "--bind", "0.0.0.0:${var.web_port}",
        "--workers", tostring(var.web_gunicorn_workers),
        "--threads", tostring(var.web_gunicorn_threads),
        "--graceful-timeout", "30",
        "--access-logfile", "-",
        "--logger-class", "app.core.gunicorn_logger.RedactingLogger",
      ]
      cpu    = var.web_cpu
      memory = var.web_memory
      ports  = [{ containerPort = var.web_port, protocol = "tcp" }]
    }
    worker = {
      command = ["flask", "jobs", "worker", "--with-scheduler"]
      cpu     = var.worker_cpu
      memory  = var.worker_memory
      ports   = []
    }
    migrate = {
      command = ["flask", "tenants", "migrate"]
      cpu     = var.worker_cpu
      memory  = var.worker_memory
      ports   = []
    }
  }
}

resource "aws_ecs_task_definition" "app" {
  for_each                 = local.containers
  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.data.id
        iam             = "ENABLED"
      }
    }
  }

  container_definitions = jsonencode([{
    name         = each.key
    image        = local.image
    essential    = true
    command      = each.value.command
    portMappings = each.value.ports
    environment  = local.app_environment
    secrets      = local.app_secrets
    mountPoints  = [{ sourceVolume = "data", containerPath = "/data", readOnly = false }]
    # The RQ worker finishes its current job on SIGTERM; give it the time.
    stopTimeout = each.key == "web" ? 35 : 120
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app[each.key].name
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

# ---------------------------------------------------------------- services

resource "aws_ecs_service" "web" {
  name                              = "web"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.app["web"].arn
  launch_type                       = "FARGATE"
  desired_count                     = var.web_min_count
  health_check_grace_period_seconds = 60
  enable_execute_command            = false

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = var.web_port
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  # Autoscaling owns the count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }
  depends_on = [aws_lb_listener.https, aws_efs_mount_target.data, aws_secretsmanager_secret_version.app]
}

resource "aws_ecs_service" "worker" {
  name            = "worker"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.app["worker"].arn
  launch_type     = "FARGATE"
  desired_count   = var.worker_min_count

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  lifecycle {
    ignore_changes = [desired_count]
  }
  depends_on = [aws_efs_mount_target.data, aws_secretsmanager_secret_version.app]
}

# ---------------------------------------------------------------- autoscaling

locals {
  scaled_services = {
    web    = { service = aws_ecs_service.web.name, min = var.web_min_count, max = var.web_max_count, cpu = var.web_cpu_target_percent }
    worker = { service = aws_ecs_service.worker.name, min = var.worker_min_count, max = var.worker_max_count, cpu = var.worker_cpu_target_percent }
  }
}

resource "aws_appautoscaling_target" "service" {
  for_each           = local.scaled_services
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${each.value.service}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = local.scaled_services
  name               = "${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.cpu
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Web also scales on requests per task, which rises before CPU does for slow queries.
resource "aws_appautoscaling_policy" "web_requests" {
  name               = "web-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["web"].service_namespace
  resource_id        = aws_appautoscaling_target.service["web"].resource_id
  scalable_dimension = aws_appautoscaling_target.service["web"].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.web_requests_per_task_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.web.arn_suffix}"
    }
  }
}
