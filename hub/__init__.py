"""The hub: Quark's docking node (PRODUCT.md, "Hub").

It will hold module registration and discovery, health aggregation of NATS, PostgreSQL,
Redis and object storage, and the monitoring dashboard (port 3900). The kernel already
exposes what it will read: handler workers are NATS micro services (`$SRV.PING/INFO/STATS`),
every worker exports Prometheus metrics including projection positions and lag, and
projection positions are published on `quark.positions.<projection>`.
"""
