"""Builds the optional compiled camt entry decoder (camt/_accel.pyx); everything else
is in pyproject.toml. Without a C compiler the build skips it and kvits reads camt
files with the pure-Python decoder: same results, about half the speed."""

from setuptools import Extension, setup


def _extensions() -> list[Extension]:
    try:
        import lxml
        from Cython.Build import cythonize
    except ImportError:  # a build without Cython or lxml at hand: pure Python
        return []
    accel = Extension(
        "camt._accel",
        ["camt/_accel.pyx"],
        include_dirs=lxml.get_include(),
        optional=True,
    )
    return cythonize([accel], language_level=3, quiet=True)


setup(ext_modules=_extensions())
