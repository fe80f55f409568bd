"""Suite-wide pytest configuration: fixture plugins shared by several test packages."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.woo_simulator",
    "tests.fixtures.shopify_simulator",
    "tests.fixtures.tryton",
]
