"""Re-run notebooks in place, keeping their outputs: `python notebooks/execute.py [paths]`.

Without paths, every notebook in this folder. Execution timestamps are dropped and cell ids
kept, so that a re-run changes only what the code printed or drew. A cell whose metadata names
an image (`"image": "images/NAME.png"`, and `"image_index"` for the n-th figure it draws, from 0)
writes that figure there: the pictures the README shows are the notebooks' own.
"""

import base64
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).parent


def execute(path: pathlib.Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    write_images(notebook)


def write_images(notebook) -> None:
    """The figures of the cells whose metadata names an image, written there."""
    for cell in notebook.cells:
        if "image" not in cell.metadata:
            continue
        figures = [
            o["data"]["image/png"]
            for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        png = figures[cell.metadata.get("image_index", 0)]
        (HERE / cell.metadata["image"]).write_bytes(base64.b64decode(png))


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(HERE.glob("*.ipynb")):
        print(f"executing {name}", flush=True)
        execute(pathlib.Path(name))
