"""App wiring: assembles log, store, gateways, pipeline and API into a deployment."""
