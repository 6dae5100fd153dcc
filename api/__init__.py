"""The HTTP API of service-circle (FastAPI); see :mod:`api.main`."""
