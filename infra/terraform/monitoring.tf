# Logs and alarms. Containers log JSON lines to stdout (LOG_FORMAT=json: request id,
# tenant slug), which the awslogs driver ships to one log group per process.
# Alarms go to an SNS topic; subscribe the on-call address with alarm_email.

resource "aws_cloudwatch_log_group" "app" {
  for_each          = toset(["web", "worker", "migrate"])
  name              = "/${var.project}/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "redis" {
  name              = "/${var.project}/${var.environment}/redis-slow-log"
  retention_in_days = var.log_retention_days
}

resource "aws_sns_topic" "alarms" {
  name = "${local.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Unhandled errors: the application logs them at ERROR with the request id.
resource "aws_cloudwatch_log_metric_filter" "errors" {
  for_each       = toset(["web", "worker"])
  name           = "${local.name}-${each.key}-errors"
  log_group_name = aws_cloudwatch_log_group.app[each.key].name
  pattern        = "{ $.levelname = \"ERROR\" }"
  metric_transformation {
    name      = "${each.key}-errors"
    namespace = "Motcua/${var.environment}"
    value     = "1"
    unit      = "Count"
  }
}

locals {
  rds_alarm_instances = { for name, db in aws_db_instance.postgres : name => db.identifier }

  alarms = merge(
    {
      alb-5xx = {
        namespace  = "AWS/ApplicationELB", metric = "HTTPCode_Target_5XX_Count", stat = "Sum",
        threshold  = var.alarm_5xx_per_5_minutes, comparison = "GreaterThanThreshold",
        dimensions = { LoadBalancer = aws_lb.main.arn_suffix }
      }
      alb-latency-p95 = {
        namespace  = "AWS/ApplicationELB", metric = "TargetResponseTime", stat = "p95",
        threshold  = var.alarm_p95_latency_seconds, comparison = "GreaterThanThreshold",
        dimensions = { LoadBalancer = aws_lb.main.arn_suffix }
      }
      web-unhealthy-targets = {
        namespace  = "AWS/ApplicationELB", metric = "UnHealthyHostCount", stat = "Maximum",
        threshold  = 0, comparison = "GreaterThanThreshold",
        dimensions = { LoadBalancer = aws_lb.main.arn_suffix, TargetGroup = aws_lb_target_group.web.arn_suffix }
      }
      # No worker running means no provisioning, no outbox delivery, no scheduled jobs.
      worker-not-running = {
        namespace  = "ECS/ContainerInsights", metric = "RunningTaskCount", stat = "Minimum",
        threshold  = 1, comparison = "LessThanThreshold",
        dimensions = { ClusterName = aws_ecs_cluster.main.name, ServiceName = aws_ecs_service.worker.name }
      }
      web-errors = {
        namespace = "Motcua/${var.environment}", metric = "web-errors", stat = "Sum",
        threshold = var.alarm_5xx_per_5_minutes, comparison = "GreaterThanThreshold", dimensions = {}
      }
      worker-errors = {
        namespace = "Motcua/${var.environment}", metric = "worker-errors", stat = "Sum",
        threshold = var.alarm_5xx_per_5_minutes, comparison = "GreaterThanThreshold", dimensions = {}
      }
      redis-memory = {
        namespace  = "AWS/ElastiCache", metric = "DatabaseMemoryUsagePercentage", stat = "Maximum",
        threshold  = 80, comparison = "GreaterThanThreshold",
        dimensions = { ReplicationGroupId = aws_elasticache_replication_group.main.id }
      }
    },
    merge([for shard, id in local.rds_alarm_instances : {
      "db-${shard}-cpu" = {
        namespace  = "AWS/RDS", metric = "CPUUtilization", stat = "Average",
        threshold  = 80, comparison = "GreaterThanThreshold",
        dimensions = { DBInstanceIdentifier = id }
      }
      "db-${shard}-free-storage" = {
        namespace  = "AWS/RDS", metric = "FreeStorageSpace", stat = "Minimum",
        threshold  = var.alarm_db_free_storage_gb * 1024 * 1024 * 1024, comparison = "LessThanThreshold",
        dimensions = { DBInstanceIdentifier = id }
      }
    }]...),
  )
}

resource "aws_cloudwatch_metric_alarm" "main" {
  for_each            = local.alarms
  alarm_name          = "${local.name}-${each.key}"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = startswith(each.value.stat, "p") ? null : each.value.stat
  extended_statistic  = startswith(each.value.stat, "p") ? each.value.stat : null
  dimensions          = each.value.dimensions
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.key == "worker-not-running" ? "breaching" : "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
