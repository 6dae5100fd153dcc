"""The HTTP API of service-circle (FastAPI), installed as ``service_circle_api``; see :mod:`service_circle_api.main`."""
