"""WooCommerce REST API v3 adapter: ``adapters.woocommerce.adapter.WooCommerceAdapter``.

Kept import-free so the simulator subpackage can be imported without the adapter's dependencies.
"""
