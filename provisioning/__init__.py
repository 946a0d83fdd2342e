"""Self-service onboarding and the provisioning pipeline (issue #5)."""
