"""Build creditlab: a pure-Python package plus one pybind11 module, creditlab._C.

CMake is driven from here (the pybind11 cmake_example pattern). If the compiled module
cannot be built (no C++ compiler, CMake failure) the package still installs and runs on
its pure-Python reference path, with a warning; ``creditlab.backend_info()`` says which
path is active. Set ``CREDITLAB_NO_EXT=1`` to skip the build on purpose, and
``CMAKE_ARGS`` to pass extra ``-D`` options (e.g. ``-DCREDITLAB_CUDA=OFF``).
"""

import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "creditlab" / "__init__.py").read_text(), re.M
).group(1)


class CMakeExtension(Extension):
    def __init__(self, name: str, sourcedir: str = "") -> None:
        # optional: when the build is skipped (CREDITLAB_NO_EXT) or fails, an editable
        # install must not try to copy a module that was never built
        super().__init__(name, sources=[], optional=True)
        self.sourcedir = os.fspath(Path(sourcedir).resolve())


class CMakeBuild(build_ext):
    def build_extension(self, ext: CMakeExtension) -> None:
        if os.environ.get("CREDITLAB_NO_EXT"):
            warnings.warn(
                "CREDITLAB_NO_EXT is set: skipping creditlab._C (pure-Python path)", stacklevel=2
            )
            return
        try:
            self._cmake_build(ext)
        except (OSError, subprocess.CalledProcessError) as err:
            warnings.warn(
                f"creditlab._C could not be built ({err}); creditlab will use its "
                "pure-Python reference kernels, which are correct but slower.",
                stacklevel=2,
            )

    def _cmake_build(self, ext: CMakeExtension) -> None:
        import pybind11

        extdir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_type = "Debug" if self.debug else "Release"
        cmake_args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={extdir}{os.sep}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={build_type}",
        ]
        cmake_args += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        build_args = ["--config", build_type]
        if "CMAKE_BUILD_PARALLEL_LEVEL" not in os.environ:
            build_args += ["--parallel", str(os.cpu_count() or 1)]
        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        cmake = _cmake_executable()
        subprocess.run([cmake, ext.sourcedir, *cmake_args], cwd=build_temp, check=True)
        subprocess.run([cmake, "--build", ".", *build_args], cwd=build_temp, check=True)


def _cmake_executable() -> str:
    try:  # the `cmake` wheel from [build-system].requires
        import cmake

        return os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
    except ImportError:
        return "cmake"


setup(
    name="creditlab",
    version=VERSION,
    description="Credit assignment and reward design in RL: a textbook and fast kernels",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["creditlab", "creditlab.*"]),
    package_data={"creditlab": ["exercises/data/*.npz"]},
    ext_modules=[CMakeExtension("creditlab._C", sourcedir=".")],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy>=1.24", "gymnasium>=0.29", "matplotlib>=3.7", "tqdm>=4.60"],
    extras_require={
        "book": [
            "torch>=2.1",
            "jupyterlab>=4",
            "ipykernel>=6",
            "jupyter-book>=1.0,<2",
            "myst-nb>=1.0",
            "sphinxcontrib-bibtex>=2.5",  # book/references.bib, the chapters' {cite} roles
            "ipywidgets>=8",  # widget progress bars in JupyterLab (creditlab.progress)
            "beautifulsoup4>=4.9",  # tools/check_html.py
        ],
        # pybind11: the CUDA-emulator tests compile csrc/bindings.cpp (tests/cuda_emu)
        "test": [
            "pytest>=7",
            "hypothesis>=6.80",
            "nbval>=0.11",
            "nbstripout>=0.7",
            "ruff>=0.5",
            "pybind11>=2.12",
            "pyyaml>=6",  # tests/test_book_papers.py reads book/papers.yml
        ],
        # creditlab inside RL stacks (creditlab/integrations, tests/integrations); never
        # part of `make test`. A verl or TRL user already has the peer installed.
        "verl": ["verl==0.9.1"],
        "trl": ["trl==1.13.0"],
        "ray": ["ray[data]==2.58.0", "pyarrow>=14"],
        # `make test-integrations`: verl is installed there with --no-deps (its full
        # dependency set is a GPU training stack); these are the imports that
        # verl.trainer.ppo.core_algos and ray_trainer.compute_advantage need, plus TRL
        # and Ray Data.
        "integrations-test": [
            "tensordict>=0.8.0,<=0.10.0,!=0.9.0",
            "omegaconf>=2.3",
            "codetiming",
            "torchdata",
            "peft",
            "cachetools",
            "fastapi",
            "uvicorn",
            "trl==1.13.0",
            "ray[data]==2.58.0",
            "pyarrow>=14",
        ],
    },
    # `import verl` loads this entry point (verl's plugin discovery), which registers
    # creditlab's advantage estimators (creditlab/integrations/verl.py).
    entry_points={"verl.plugins": ["creditlab = creditlab.integrations.verl"]},
    zip_safe=False,
)
