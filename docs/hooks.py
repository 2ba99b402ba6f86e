"""Build hooks for the documentation site (mkdocs.yml names this file under `hooks:`).

- The notebooks live in `notebooks/`, outside `docs/`: every `notebooks/*.ipynb` (found by
  glob, so a new notebook needs no edit here) and the figures in `notebooks/images/` are added
  to the site as if they were in `docs/notebooks/`, and the notebooks are listed in the nav
  under "Notebooks". mkdocs-jupyter renders them from their stored outputs, without running them.
- MathJax is served by the site itself, from the `django-static-mathjax` package (the `docs`
  extra), so that the math renders without a network.
- `DoctestExamples`, a griffe extension (mkdocs.yml names it under mkdocstrings), shows the
  docstrings' `Example:` sections as code, as their `Examples:` sections would be.
"""

import pathlib
import re

import griffe
import mkdocs.plugins
from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_SECTION = "Notebooks"
MATHJAX_FILES = (
    "tex-mml-chtml.js",
    "output/chtml/fonts/woff-v2/*.woff",
    "input/tex/extensions/*.js",
)
"""What the site needs of MathJax's `es5` folder: the TeX component, its fonts, and the TeX
packages it loads on demand (`\\boldsymbol`, `\\color`, ...)."""


def notebook_paths() -> list[pathlib.Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def on_config(config):
    """List every notebook in the nav section "Notebooks", after what that section already has."""
    for item in config.nav or []:
        if isinstance(item, dict) and NOTEBOOK_SECTION in item:
            section = item[NOTEBOOK_SECTION]
            uris = [f"notebooks/{path.name}" for path in notebook_paths()]
            section.extend(uri for uri in uris if uri not in section)  # serve reruns this
            return config
    raise ValueError(f"mkdocs.yml: the nav needs a section {NOTEBOOK_SECTION!r} for the notebooks.")


def mathjax_folder() -> pathlib.Path:
    import mathjax  # django-static-mathjax: a copy of MathJax and nothing else

    return pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


@mkdocs.plugins.event_priority(100)  # before mkdocs-jupyter's on_files turns notebooks into pages
def on_files(files, config):
    for path in notebook_paths() + sorted((NOTEBOOKS / "images").glob("*.png")):
        uri = path.relative_to(ROOT).as_posix()  # notebooks/..., as if in docs/notebooks/
        files.append(File(uri, str(ROOT), config.site_dir, config.use_directory_urls))
    folder = mathjax_folder()
    for pattern in MATHJAX_FILES:
        for path in sorted(folder.glob(pattern)):
            uri = f"javascripts/mathjax/{path.relative_to(folder).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


class DoctestExamples(griffe.Extension):
    """Read a docstring's `Example:` section (the house style) as Google's `Examples:`, whose
    `>>>` lines griffe renders as code (an `Example:` is otherwise an admonition of prose)."""

    EXAMPLE = re.compile(r"^(\s*)Example:$", re.M)

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = self.EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
