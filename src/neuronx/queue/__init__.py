"""The durable job queue: jobs, attempts, leases, retries and dead letters."""
