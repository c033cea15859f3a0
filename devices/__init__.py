"""Device drivers: ID-card readers, QR scanners, ticket printers, and their simulators."""
