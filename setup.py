"""Build step that puts the app's top-level folders into the package; everything else is in pyproject.toml.

templates/, static/ and migrations/ stay at the repository's top level (the project's layout), and a
source checkout or an editable install uses them there. A wheel (and so `pip install .`) has no checkout
beside it, so the build copies them to annotator/templates, annotator/static and annotator/migrations,
where `annotator.app_folder` looks first.
"""
from __future__ import annotations

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

APP_FOLDERS = ("templates", "static", "migrations")
_SKIP = shutil.ignore_patterns("__pycache__", "*.py[cod]")


class build_py_with_app_folders(build_py):  # noqa: N801  (a setuptools command class)
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install runs from the checkout, top-level folders included
        here = os.path.dirname(os.path.abspath(__file__))
        for name in APP_FOLDERS:
            target = os.path.join(self.build_lib, "annotator", name)
            shutil.rmtree(target, ignore_errors=True)  # build/ may hold an older build: no stale files in the wheel
            shutil.copytree(os.path.join(here, name), target, ignore=_SKIP)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if getattr(self, "editable_mode", False):
            return outputs
        for name in APP_FOLDERS:
            for folder, _dirs, files in os.walk(os.path.join(self.build_lib, "annotator", name)):
                outputs += [os.path.join(folder, f) for f in files]
        return outputs


setup(cmdclass={"build_py": build_py_with_app_folders})
