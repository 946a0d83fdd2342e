# Generated secrets, never defaults: the database password, the Redis auth token and
# SECRET_KEY (signs session cookies). They live in Secrets Manager and reach the
# containers as ECS secrets; they are also in Terraform state, which is why the
# state backend must be encrypted and access-controlled (README).

resource "random_password" "database" {
  length = 40
  # Letters and digits only: the password goes into a URL unescaped.
  special = false
}

resource "random_password" "redis" {
  length  = 64
  special = false
}

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "app" {
  for_each = toset(local.secret_names)
  name     = "${local.name}/${each.key}"
  # A secret deleted by mistake can be restored for 30 days.
  recovery_window_in_days = 30
}

locals {
  # The name of each secret is the environment variable the application reads.
  secret_values = merge(
    {
      SECRET_KEY   = random_password.secret_key.result
      DATABASE_URL = local.database_url
      REDIS_URL    = local.redis_url
    },
    var.shard_count > 0 && !var.citus_enabled ? { SHARD_URLS = local.shard_urls } : {},
    var.mail_smtp_host != "" ? { MAIL_SMTP_PASSWORD = var.mail_smtp_password } : {},
  )
  secret_names = concat(
    ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"],
    var.shard_count > 0 && !var.citus_enabled ? ["SHARD_URLS"] : [],
    var.mail_smtp_host != "" ? ["MAIL_SMTP_PASSWORD"] : [],
  )
}

resource "aws_secretsmanager_secret_version" "app" {
  for_each      = aws_secretsmanager_secret.app
  secret_id     = each.value.id
  secret_string = local.secret_values[each.key]
}
