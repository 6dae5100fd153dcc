"""The HTTP API of service-circle (FastAPI), installed as ``service_circle_api``.

See :mod:`service_circle_api.main`.
"""
