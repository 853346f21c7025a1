"""The OpenAPI document (placeholder)."""
