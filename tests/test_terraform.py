"""infra/terraform, the Procfile and the Dockerfile (issue #5).

The HCL is parsed with python-hcl2: no ``terraform init`` here (no registry access),
so these tests check the configuration's structure: variables used and documented,
no secret with a default, references that resolve, the container environment limited
to settings the application reads, and the processes naming real entry points.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import hcl2
import pytest

from app.core import embedded

ROOT = Path(__file__).resolve().parents[1]
TF_DIR = ROOT / "infra" / "terraform"
README = TF_DIR / "README.md"
SECRET_WORDS = {"password", "secret", "key", "token"}


# --------------------------------------------------------------------------- helpers


def unquote(value):
    """python-hcl2 keeps the quotes of block labels and string literals."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def tf_files() -> list[Path]:
    files = sorted(TF_DIR.glob("*.tf"))
    assert files, f"no .tf files in {TF_DIR}"
    return files


@cache
def parsed(name: str) -> dict:
    return hcl2.loads((TF_DIR / name).read_text(encoding="utf-8"))


def blocks(kind: str) -> dict[str, dict]:
    """``variable`` or ``output`` blocks of every file: {name: body}."""
    found: dict[str, dict] = {}
    for path in tf_files():
        for block in parsed(path.name).get(kind, []):
            for label, body in block.items():
                name = unquote(label)
                assert name not in found, f"{kind} {name} declared twice"
                found[name] = {**body, "__file__": path.name}
    return found


def resources(kind: str = "resource") -> set[tuple[str, str]]:
    """Declared (type, name) pairs of ``resource`` or ``data`` blocks."""
    found = set()
    for path in tf_files():
        for block in parsed(path.name).get(kind, []):
            for type_label, named in block.items():
                for name_label in named:
                    found.add((unquote(type_label), unquote(name_label)))
    return found


def local_names() -> set[str]:
    names = set()
    for path in tf_files():
        for block in parsed(path.name).get("locals", []):
            names.update(k for k in block if not k.startswith("__"))
    return names


def tf_text(exclude: str = "") -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in tf_files() if p.name != exclude)


def readme_table_names(heading: str) -> set[str]:
    """Names in the first column of the table under ``## <heading>`` of the README."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{README} has no section '## {heading}'"
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", match.group(1), re.M))


def procfile() -> dict[str, list[str]]:
    entries = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = shlex.split(command)
    return entries


# --------------------------------------------------------------------------- variables


def test_every_variable_has_a_description_and_a_type():
    variables = blocks("variable")
    assert len(variables) > 30, "expected the full set of variables in variables.tf"
    for name, body in variables.items():
        assert body["__file__"] == "variables.tf", f"variable {name} belongs in variables.tf"
        assert unquote(body.get("description", "")).strip(), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"


def test_every_variable_is_used_outside_its_declaration():
    used = tf_text(exclude="variables.tf")
    unused = [name for name in blocks("variable") if not re.search(rf"\bvar\.{name}\b", used)]
    assert unused == [], f"declared but never used: {unused}"


def test_no_secret_variable_has_a_default():
    variables = blocks("variable")
    secret_like = {n for n in variables if SECRET_WORDS & set(n.split("_"))}
    assert "mail_smtp_password" in secret_like  # the check sees the one secret input
    for name in secret_like:
        assert "default" not in variables[name], f"secret variable {name} has a default"
        assert variables[name].get("sensitive") is True, f"secret variable {name} is not sensitive"
    for name, body in variables.items():
        if body.get("sensitive"):
            assert "default" not in body, f"sensitive variable {name} has a default"


def test_generated_secrets_are_random_and_reach_the_containers_from_secrets_manager():
    declared = resources()
    for name in ("database", "redis", "secret_key"):
        assert ("random_password", name) in declared
    text = (TF_DIR / "secrets.tf").read_text(encoding="utf-8")
    assert re.search(r"SECRET_KEY\s*=\s*random_password\.secret_key\.result", text)
    assert "random_password.database.result" in (TF_DIR / "database.tf").read_text(encoding="utf-8")
    assert "random_password.redis.result" in (TF_DIR / "redis.tf").read_text(encoding="utf-8")
    services = (TF_DIR / "services.tf").read_text(encoding="utf-8")
    assert "secrets      = local.app_secrets" in services
    # No secret travels as a plain environment value.
    environment = _app_environment_names()
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAIL_SMTP_PASSWORD"} & environment


def test_every_variable_is_in_the_readme_table_and_nothing_else_is():
    variables = set(blocks("variable"))
    documented = readme_table_names("Variables")
    assert variables - documented == set(), f"not in the README table: {sorted(variables - documented)}"
    assert documented - variables == set(), (
        f"README documents unknown variables: {sorted(documented - variables)}"
    )


# --------------------------------------------------------------------------- outputs


def test_every_output_has_a_description_and_is_in_the_readme():
    outputs = blocks("output")
    assert {"load_balancer_dns_name", "database_endpoint", "redis_endpoint", "attachments_bucket"} <= set(
        outputs
    )
    for name, body in outputs.items():
        assert unquote(body.get("description", "")).strip(), f"output {name} has no description"
        assert "value" in body, f"output {name} has no value"
    documented = readme_table_names("Outputs")
    assert set(outputs) - documented == set(), f"not in the README: {sorted(set(outputs) - documented)}"
    assert documented - set(outputs) == set(), (
        f"README documents unknown outputs: {sorted(documented - set(outputs))}"
    )


# --------------------------------------------------------------------------- structure


def test_files_are_named_for_what_they_hold():
    names = {p.name for p in tf_files()}
    expected = {
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "network.tf",
        "database.tf",
        "redis.tf",
        "storage.tf",
        "services.tf",
        "load_balancer.tf",
        "dns.tf",
        "secrets.tf",
        "monitoring.tf",
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"
    declared = resources()
    for needed in [
        ("aws_vpc", "main"),
        ("aws_db_parameter_group", "main"),
        ("aws_elasticache_replication_group", "main"),
        ("aws_s3_bucket_public_access_block", "attachments"),
        ("aws_s3_bucket_versioning", "attachments"),
        ("aws_s3_bucket_lifecycle_configuration", "attachments"),
        ("aws_ecs_service", "web"),
        ("aws_ecs_service", "worker"),
        ("aws_appautoscaling_policy", "cpu"),
        ("aws_acm_certificate", "platform"),
        ("aws_lb_listener_certificate", "custom"),
        ("aws_route53_record", "wildcard"),
        ("aws_cloudwatch_metric_alarm", "main"),
    ]:
        assert needed in declared, f"{needed[0]}.{needed[1]} is missing"


def test_versions_are_pinned():
    terraform = parsed("versions.tf")["terraform"][0]
    assert unquote(terraform["required_version"]) == ">= 1.5"
    providers = terraform["required_providers"][0]
    assert unquote(providers["aws"]["source"]) == "hashicorp/aws"
    for name, spec in providers.items():
        if not name.startswith("__"):
            assert re.fullmatch(r"~> \d+\.\d+", unquote(spec["version"])), f"provider {name} is not pinned"


def test_references_resolve():
    """What ``terraform validate`` would catch first, without the providers."""
    text = re.sub(r"#.*", "", tf_text())
    declared = resources()
    data = resources("data")
    for type_, name in set(re.findall(r"(?<![\w.])((?:aws|random)_[a-z0-9_]+)\.([a-z0-9_]+)", text)):
        if name in {"arn", "id"}:  # an attribute of a list/for expression, not a resource
            continue
        assert (type_, name) in declared, f"{type_}.{name} is referenced but not declared"
    for type_, name in set(re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", text)):
        assert (type_, name) in data, f"data.{type_}.{name} is referenced but not declared"
    defined = local_names()
    for name in set(re.findall(r"\blocal\.([a-z0-9_]+)", text)):
        assert name in defined, f"local.{name} is used but not defined"
    templates = set(re.findall(r'templatefile\("\$\{path\.module\}/([^"]+)"', text))
    assert templates == {"templates/citus_node.sh.tftpl"}
    for template in templates:
        assert (TF_DIR / template).is_file(), template


def test_parameter_group_carries_the_server_settings():
    variables = blocks("variable")
    wal_size = embedded.SERVER_SETTINGS["max_wal_size"]
    number, unit = re.fullmatch(r"(\d+)(MB|GB)", wal_size).groups()
    expected_mb = int(number) * (1024 if unit == "GB" else 1)
    assert variables["db_max_wal_size_mb"]["default"] == expected_mb
    assert unquote(variables["db_wal_compression"]["default"]) == embedded.SERVER_SETTINGS["wal_compression"]
    group = parsed("database.tf")["resource"]
    params = next(b['"aws_db_parameter_group"']['"main"'] for b in group if '"aws_db_parameter_group"' in b)
    values = {unquote(p["name"]): p["value"] for p in params["parameter"]}
    assert set(embedded.SERVER_SETTINGS) <= set(values)
    assert "var.db_max_wal_size_mb" in values["max_wal_size"]
    assert "var.db_wal_compression" in values["wal_compression"]


def _app_environment_names() -> set[str]:
    services = parsed("services.tf")
    expression = next(b["app_environment"] for b in services["locals"] if "app_environment" in b)
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


def _secret_names() -> set[str]:
    secrets = parsed("secrets.tf")
    expression = next(b["secret_names"] for b in secrets["locals"] if "secret_names" in b)
    return set(re.findall(r'"([A-Z][A-Z0-9_]+)"', expression.replace('\\"', '"')))


def test_container_environment_is_what_the_app_reads():
    environment = _app_environment_names()
    secrets = _secret_names()
    assert {"PLATFORM_DOMAIN", "SESSION_COOKIE_SECURE", "STORAGE_DIR"} <= environment
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SHARD_URLS", "MAIL_SMTP_PASSWORD"} == secrets
    config = (ROOT / "app" / "core" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'(?:env\.get|_int)\("([A-Z0-9_]+)"', config))
    assert "SECRET_KEY" in read  # the pattern finds what from_env reads
    invented = (environment | secrets) - read
    assert invented == set(), f"the containers get settings the application never reads: {sorted(invented)}"
    services = (TF_DIR / "services.tf").read_text(encoding="utf-8")
    assert 'SESSION_COOKIE_SECURE = "1"' in services


def test_every_readme_section_is_there():
    text = README.read_text(encoding="utf-8")
    for heading in ("What it builds", "How to apply", "Citus", "Variables", "Outputs", "Not covered"):
        assert f"\n## {heading}\n" in text, heading
    # The paragraph of issue #2 about the parameter group stays.
    assert "must carry the settings of `SERVER_SETTINGS`" in text


def test_terraform_fmt_is_clean():
    binary = shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None
    )
    if binary is None:
        pytest.fail(
            "the terraform binary is not installed: install Terraform >= 1.5 "
            "(https://developer.hashicorp.com/terraform/install) so `terraform fmt -check` can run"
        )
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, f"terraform fmt would change files:\n{result.stdout}{result.stderr}"


# --------------------------------------------------------------------------- processes


def test_procfile_and_ecs_run_the_same_processes():
    entries = procfile()
    assert set(entries) == {"web", "worker", "release"}
    assert entries["web"][:2] == ["gunicorn", "wsgi:app"]
    assert entries["worker"] == ["flask", "jobs", "worker", "--with-scheduler"]
    assert entries["release"] == ["flask", "tenants", "migrate"]
    services = parsed("services.tf")
    containers = next(b["containers"] for b in services["locals"] if "containers" in b)
    assert [unquote(a) for a in containers["worker"]["command"]] == entries["worker"]
    assert [unquote(a) for a in containers["migrate"]["command"]] == entries["release"]
    assert [unquote(a) for a in containers["web"]["command"][:2]] == ["gunicorn", "wsgi:app"]


def test_dockerfile_runs_the_web_process_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "pip install -r requirements.txt" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}, "the image must end as a non-root user"
    cmd = re.findall(r"^CMD (.+)$", text, re.M)[-1]
    assert "gunicorn wsgi:app" in cmd
    assert "FLASK_APP=wsgi.py" in text  # the worker's `flask jobs worker` finds the app
    # uid of the image user = owner on the EFS access point
    uid = re.search(r"--uid (\d+)", text).group(1)
    assert f"uid = {uid}" in (TF_DIR / "storage.tf").read_text(encoding="utf-8")


def test_wsgi_app_is_what_gunicorn_loads(services):
    """gunicorn's own loader imports ``wsgi:app`` in a fresh process and gets the Flask app."""
    env = {
        **os.environ,
        "DATABASE_URL": services["database_url"],
        "REDIS_URL": services["redis_url"],
        "SHARD_URLS": "",
        "LOG_LEVEL": "WARNING",
    }
    script = (
        "from flask import Flask; from gunicorn.util import import_app; "
        "app = import_app('wsgi:app'); assert isinstance(app, Flask), type(app); "
        "print(sorted(r.rule for r in app.url_map.iter_rules() if r.rule == '/healthz'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['/healthz']"


def test_worker_and_release_commands_exist(app):
    runner = app.test_cli_runner()
    entries = procfile()
    for process in ("worker", "release"):
        args = entries[process]
        assert args[0] == "flask"
        command = [a for a in args[1:] if not a.startswith("-")]
        options = [a for a in args[1:] if a.startswith("-")]
        result = runner.invoke(args=[*command, "--help"])
        assert result.exit_code == 0, result.output
        for option in options:
            assert option in result.output, f"`flask {' '.join(command)}` has no option {option}"


def test_load_balancer_health_check_answers_on_a_bare_address(app):
    """The target group checks /healthz with the task's IP as Host, not a platform host."""
    text = (TF_DIR / "load_balancer.tf").read_text(encoding="utf-8")
    path = re.search(r'health_check \{[^}]*path\s*=\s*"([^"]+)"', text).group(1)
    client = app.test_client()
    for host in ("10.40.8.5:8000", "10.40.8.5"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 200, (host, response.status_code)
        assert response.get_json() == {"status": "ok"}
