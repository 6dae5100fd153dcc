"""Build the compiled multi-source Dijkstra; everything else is in pyproject.toml.

Plain C on the CPython buffer protocol: no numpy headers, no Cython.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "service_circle._dijkstra",
            sources=["service_circle/_dijkstra.c"],
            extra_compile_args=["-O3"],
        )
    ]
)
