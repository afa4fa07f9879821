"""Build the he_learn._native._core extension by running CMake.

Project metadata lives in pyproject.toml; this file only adds the CMake-driven
extension, following pybind11's cmake_example. Both ``pip install .`` and
``pip install -e .`` go through ``CMakeBuild.build_extension``, which asks setuptools
where the module belongs (``get_ext_fullpath``) and points CMake's output there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    """An extension whose sources are built by the CMake project at ``source_dir``."""

    def __init__(self, name: str, source_dir: Path) -> None:
        super().__init__(name, sources=[])
        self.source_dir = Path(source_dir).resolve()


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        if not isinstance(ext, CMakeExtension):
            super().build_extension(ext)
            return
        import pybind11  # a build requirement (pyproject.toml [build-system])

        output_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_temp = Path(self.build_temp).resolve() / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        # A cache left by an earlier build can point at tools from a deleted isolated
        # build environment (pip's /tmp/pip-build-env-*): always configure afresh.
        (build_temp / "CMakeCache.txt").unlink(missing_ok=True)
        shutil.rmtree(build_temp / "CMakeFiles", ignore_errors=True)
        config = "Debug" if self.debug else "Release"
        configure = [
            "cmake",
            str(ext.source_dir),
            f"-DCMAKE_BUILD_TYPE={config}",
            f"-DHE_LEARN_OUTPUT_DIR={output_dir}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}",
        ]
        ninja = shutil.which("ninja")
        if not os.environ.get("CMAKE_GENERATOR") and ninja and _runs(ninja):
            configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
        build = ["cmake", "--build", ".", "--config", config]
        if self.parallel:
            build += ["--parallel", str(self.parallel)]
        else:
            build += ["--parallel"]
        subprocess.run(configure, cwd=build_temp, check=True)
        subprocess.run(build, cwd=build_temp, check=True)


def _runs(program: str) -> bool:
    try:
        subprocess.run([program, "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


setup(
    ext_modules=[CMakeExtension("he_learn._native._core", ROOT)],
    cmdclass={"build_ext": CMakeBuild},
)
