"""The microdash operator: kopf handlers turning Tenant and AlertRule resources into rows, Secrets and broker ACLs."""
