"""Progress of long runs: reporters (`gj.AbstractProgress`, `gj.TqdmProgress`) and the meter
that reports each pass over a rule's chunks from inside the compiled loop."""

from ._meter import Meter as Meter
from ._reporters import AbstractProgress as AbstractProgress
from ._reporters import ProgressTask as ProgressTask
from ._reporters import TqdmProgress as TqdmProgress
from ._reporters import resolve_progress as resolve_progress
