# Route 53: the platform's zone must already exist (delegated from the parent zone,
# e.g. haiphong.gov.vn); this configuration adds records to it, it does not own it.

data "aws_route53_zone" "platform" {
  name         = coalesce(var.dns_zone_name, var.platform_domain)
  private_zone = false
}

# <domain> (city portal) and *.<domain> (console, tenants) both point at the load balancer.
resource "aws_route53_record" "apex" {
  zone_id = data.aws_route53_zone.platform.zone_id
  name    = var.platform_domain
  type    = "A"
  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "wildcard" {
  zone_id = data.aws_route53_zone.platform.zone_id
  name    = "*.${var.platform_domain}"
  type    = "A"
  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

# The apex and the wildcard share one validation record; group by name to create it once.
resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for o in aws_acm_certificate.platform.domain_validation_options : o.resource_record_name => o...
  }
  zone_id         = data.aws_route53_zone.platform.zone_id
  name            = each.key
  type            = each.value[0].resource_record_type
  records         = [each.value[0].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}
