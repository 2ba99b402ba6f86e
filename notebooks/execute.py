"""Re-run notebooks in place, keeping their outputs: `python notebooks/execute.py [paths]`.

Without paths, every notebook in this folder. Execution timestamps are dropped and cell ids
kept, so that a re-run changes only what the code printed or drew.
"""

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


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(HERE.glob("*.ipynb")):
        print(f"executing {name}", flush=True)
        execute(pathlib.Path(name))
