"""Shopify adapter: GraphQL Admin API 2026-01 client, mapping, bulk backfill and webhooks."""
