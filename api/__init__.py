"""The service-circle HTTP API (FastAPI): thin routers over the library."""
