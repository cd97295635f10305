"""Build hook for the optional C framing speedups (see _speedups.c for why).

``optional=True``: without a compiler the package installs and runs on the
pure-Python framing code.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "icvcloud.protocols.jt808._speedups",
            ["src/icvcloud/protocols/jt808/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
