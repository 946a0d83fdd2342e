# One Application Load Balancer for every site: the city portal (<domain>), the
# console (admin.<domain>), each tenant (<slug>.<domain>) and units' own domains.
# The application picks the tenant from the Host header, so every host goes to web.

resource "aws_lb" "main" {
  name                       = local.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  idle_timeout               = 60
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = aws_s3_bucket.lb_logs.id
    enabled = true
  }
  depends_on = [aws_s3_bucket_policy.lb_logs]
}

resource "aws_lb_target_group" "web" {
  name                 = "${local.name}-web"
  port                 = var.web_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  # /healthz answers on every host (app/core/health.py), including the bare IP the
  # load balancer sends; /readyz would take every task out when PostgreSQL blips.
  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.platform.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}

# ---------------------------------------------------------------- certificates

# <domain> and *.<domain>: the city portal, the console and every tenant subdomain.
resource "aws_acm_certificate" "platform" {
  domain_name               = var.platform_domain
  subject_alternative_names = ["*.${var.platform_domain}"]
  validation_method         = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate_validation" "platform" {
  certificate_arn         = aws_acm_certificate.platform.arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

# A unit's own domain (e.g. dichvucong.ngoquyen.haiphong.gov.vn) lives in a zone we do
# not control: the unit publishes the validation record (output
# custom_domain_validation_records), and only then the certificate joins the listener.
resource "aws_acm_certificate" "custom" {
  for_each          = toset(var.custom_domains)
  domain_name       = each.key
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate_validation" "custom" {
  for_each        = toset(var.custom_domains)
  certificate_arn = aws_acm_certificate.custom[each.key].arn
  timeouts {
    create = var.custom_domain_validation_timeout
  }
}

resource "aws_lb_listener_certificate" "custom" {
  for_each        = toset(var.custom_domains)
  listener_arn    = aws_lb_listener.https.arn
  certificate_arn = aws_acm_certificate_validation.custom[each.key].certificate_arn
}

# ---------------------------------------------------------------- access logs

data "aws_elb_service_account" "main" {}

resource "aws_s3_bucket" "lb_logs" {
  bucket_prefix = "${local.name}-lb-logs-"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "lb_logs" {
  bucket                  = aws_s3_bucket.lb_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lb_logs" {
  bucket = aws_s3_bucket.lb_logs.id
  rule {
    # Load balancer access logs support SSE-S3 only.
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "lb_logs" {
  bucket = aws_s3_bucket.lb_logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
  }
}

resource "aws_s3_bucket_policy" "lb_logs" {
  bucket = aws_s3_bucket.lb_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    # Older regions deliver as the regional ELB account, newer ones as the service.
    Statement = [
      {
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.main.arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.lb_logs.arn}/AWSLogs/*"
      },
      {
        Effect    = "Allow"
        Principal = { Service = "logdelivery.elasticloadbalancing.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.lb_logs.arn}/AWSLogs/*"
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.lb_logs]
}
