"""Tryton ERP adapter: store orders become sales, shipments and in-store sales come back."""
