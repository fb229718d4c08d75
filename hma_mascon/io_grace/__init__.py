"""Readers and writers for GRACE/GRACE-FO Level-2 spherical-harmonic files.

Formats
-------
* **GSM, GRCOF2 with a YAML header** (PO.DAAC RL06: CSR, JPL, GFZ; plain or gzip). The header,
  up to the line ``# End of YAML header``, is parsed with PyYAML; ``header.dimensions.degree``,
  ``earth_gravity_param.value``, ``mean_equator_radius.value`` are required. Records are
  ``GRCOF2 n m C S sigma_C sigma_S begin end flags``.
* **GSM, older RL04/RL05 headers**: either the classic PO.DAAC layout (``EARTH GM a`` and
  ``SHM nmax ...`` header records, then ``GRCOF2`` records; ``CMMNT``/``FIRST`` lines ignored) or
  the layout of the GRACE-filter test files (``META nmax t_begin t_mid t_end`` in decimal years,
  then ``n m C S sigma_C sigma_S`` rows). The META layout carries no GM/radius; the GRACE
  values 3.986004415e14 m3 s-2 and 6378136.3 m are assumed unless given (recorded in history).
* **ICGEM .gfc** (ITSG-Grace2018, Tongji-Grace2022): header between ``begin_of_head`` and
  ``end_of_head`` (``earth_gravity_constant``, ``radius``, ``max_degree`` required), then
  ``gfc n m C S [sigma_C sigma_S]`` records.

Time spans (``time_end`` exclusive): YAML ``time_coverage_start/end``; else the file name
(``YYYYDOY-YYYYDOY`` with the end day inclusive, ``YYYYMMDD-YYYYMMDD``, or ``YYYY-MM`` for a
calendar month); else the GRCOF2 epoch columns (``yyyymmdd.hhmm``; an end at 23:59 is read as
00:00 of the next day). Epoch = mid-point of the span; month labels by
:func:`hma_mascon.stokes.unique_month_labels` (mid-epoch month, the special months resolved).
Mission from the file name (``GRAC``/``GRFO``, ``Gracefo``), else from the date (GRACE before
2018-05, GRACE-FO after).

Heavy lifting: PyYAML (headers), numpy, tqdm (progress bar). The record parsers are written by
hand: no installed library reads all three layouts with line-numbered errors (gravity-toolkit's
``read_GRACE_harmonics`` needs its own file-name conventions and does not validate records).
Every malformed input raises :class:`MalformedFileError` naming the file, the line and the problem.

Modules: :mod:`~hma_mascon.io_grace.gsm` (GSM files), :mod:`~hma_mascon.io_grace.gfc` (ICGEM files),
:mod:`~hma_mascon.io_grace.directory` (a directory of months), :mod:`~hma_mascon.io_grace.common`
(what they share).
"""

from ..errors import MalformedFileError
from .common import (
    GRACE_GM,
    GRACE_RADIUS,
    check_earth_constants,
    mission_from_filename,
    read_text_lines,
)
from .directory import read_stokes_directory, read_stokes_file
from .gfc import read_gfc, write_gfc
from .gsm import read_gsm, write_gsm

__all__ = [
    "GRACE_GM",
    "GRACE_RADIUS",
    "MalformedFileError",
    "check_earth_constants",
    "mission_from_filename",
    "read_gfc",
    "read_gsm",
    "read_stokes_directory",
    "read_stokes_file",
    "read_text_lines",
    "write_gfc",
    "write_gsm",
]
