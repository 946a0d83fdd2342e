# The Citus option (citus_enabled = true), for schema-sharding at national scale.
#
# What it provisions: one coordinator and citus_worker_count workers on EC2 in the
# private subnets (Ubuntu 22.04, PostgreSQL 16 with Citus from the Citus Data
# packages), encrypted gp3 volumes, the same max_wal_size / wal_compression as the
# RDS parameter group, and citus.enable_schema_based_sharding = on, so each tenant
# schema the application creates becomes a distributed schema placed on one worker.
# DATABASE_URL then points at the coordinator and no RDS instance is created.
#
# What it does not: replicas or failover of any node, automated backups (take EBS
# snapshots or pgBackRest yourself), OS patching, TLS between nodes. The application
# has not been tested against Citus; its own shard directory (SHARD_URLS, shard_count)
# is the tested way to spread tenants over servers. See README "Citus".

data "aws_ssm_parameter" "ubuntu_ami" {
  count = var.citus_enabled ? 1 : 0
  name  = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
}

locals {
  citus_node_settings = {
    db_name               = var.db_name
    db_username           = var.db_username
    db_password           = random_password.database.result
    vpc_cidr              = var.vpc_cidr
    citus_package_version = var.citus_package_version
    max_wal_size_mb       = var.db_max_wal_size_mb
    wal_compression       = var.db_wal_compression
  }
}

resource "aws_instance" "citus_worker" {
  count                  = var.citus_enabled ? var.citus_worker_count : 0
  ami                    = data.aws_ssm_parameter.ubuntu_ami[0].value
  instance_type          = var.citus_instance_type
  subnet_id              = aws_subnet.private[count.index % var.availability_zone_count].id
  vpc_security_group_ids = [aws_security_group.database.id]
  user_data = templatefile("${path.module}/templates/citus_node.sh.tftpl", merge(local.citus_node_settings, {
    role         = "worker"
    worker_hosts = []
  }))
  metadata_options {
    http_tokens = "required"
  }
  root_block_device {
    volume_type = "gp3"
    volume_size = var.citus_volume_size_gb
    encrypted   = true
  }
  tags = { Name = "${local.name}-citus-worker-${count.index}" }
}

resource "aws_instance" "citus_coordinator" {
  count                  = var.citus_enabled ? 1 : 0
  ami                    = data.aws_ssm_parameter.ubuntu_ami[0].value
  instance_type          = var.citus_instance_type
  subnet_id              = aws_subnet.private[0].id
  vpc_security_group_ids = [aws_security_group.database.id]
  # The coordinator registers the workers by address once they answer.
  user_data = templatefile("${path.module}/templates/citus_node.sh.tftpl", merge(local.citus_node_settings, {
    role         = "coordinator"
    worker_hosts = aws_instance.citus_worker[*].private_ip
  }))
  metadata_options {
    http_tokens = "required"
  }
  root_block_device {
    volume_type = "gp3"
    volume_size = var.citus_volume_size_gb
    encrypted   = true
  }
  tags = { Name = "${local.name}-citus-coordinator" }
}
