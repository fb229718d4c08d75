"""Every number of the paper computed from a solution Dataset (METHODS.md §10-§14; Tables II-IV, Figs. 5-11).

:func:`paper_numbers_from_solution` takes the CF Dataset of :func:`hma_mascon.pipeline.run_solution`
(``glacier_lwe_thickness`` (time, lat, lon) in cm, ``cell_area``, ``is_buffer``) and the data directory
it was computed from, and returns the ``ours`` dict that :func:`hma_mascon.paper.ledger` takes: ids of
``hma_mascon/data/paper_numbers.yml`` mapped to ``(value, reason)``.  The chapters 5-8 and 10 of the
book draw the intermediate tables returned by the other public functions.

Heavy lifting elsewhere: region polygons, area fractions and Gt sums (:mod:`hma_mascon.regions`,
shapely/pyproj), the six-term trend fit and its 95 % error (:mod:`hma_mascon.timeseries`,
:func:`hma_mascon.glacier.regional_trends`), the regression / in-situ / ablation statistics
(:mod:`hma_mascon.validation`), the GIA synthesis (:mod:`hma_mascon.gia`), the regridding and the
Shean et al. (2020) rates (:mod:`hma_mascon.priors`).  Written by hand here: only the book-keeping of
the paper -- which series, which period, which cells and which regions make each printed number:

* **Table II** [§10.4, AMB-13]: mascon glacier trends vs. ASTER trends in Gt/yr, 2002-2019, per HiMAP
  region (16 points) and per 0.5 deg cell with RGI glacier area > 0.  The ASTER reference is the
  gridded glacier series ``glacier_prior_grid`` (the synthetic world's ASTER-like stand-in for the
  Hugonnet et al. 2021 tiles) when the data directory holds it, else the Shean et al. (2020) rates,
  which are **rate-only and span 2000.4-2018.4**, not 2002-2019.
* **Table III** [§10.5, AMB-14]: Pearson r between the WGMS annual balances and the mascon glacier
  series of the cell containing the glacier (option: 3x3 mean), over the balance years of the paper's
  period that the series cover, with n.
* **Trends** [§10.2-§10.3]: regional glacier trends with 1.96 sqrt(sigma_fit^2 + sigma_GIA^2), sigma_GIA
  the spread of the three GIA models on the same regional aggregate; the HMA total is the sum over the
  16 regions; maximum cell losses of the Himalaya (W/C/E Himalaya), Nyainqentanglha and Tien Shan
  (Central, Northern/Western and Eastern Tien Shan) cells, a cell belonging to the region holding most
  of its area.
* **Table IV** [§11]: each study period computed over the GRACE-available months inside it; a period
  reaching outside the solution (e.g. Shean 2000-2018 starts before 2002-04) is flagged ``truncated``.
* **Ablation** [§10.6, AMB-15]: per region over 2003-2022 with the trend kept; total and range.

In the synthetic world :func:`truth_as_solution` dresses the known truth as a solution Dataset, so the
same functions give the truth's value of every number (the closed loop of chapter 10).

Modules (one section of the paper each): :mod:`~hma_mascon.reproduction.context` (the shared
inputs), :mod:`~hma_mascon.reproduction.trends` (Sec. V-A, Table IV),
:mod:`~hma_mascon.reproduction.comparisons` (Tables II and III, ablation) and
:mod:`~hma_mascon.reproduction.ledger` (every number beside the paper's),
:mod:`~hma_mascon.reproduction.centres` (two centres' real-data solutions against each other),
:mod:`~hma_mascon.reproduction.closed_loop` (the committed closed-loop tables of chapter 9 and their
readings) and :mod:`~hma_mascon.reproduction.noise_spectra` (real and synthetic noise spectra).
"""

from .comparisons import (
                      ablation_soil_moisture_share,
                      ablation_table,
                      aster_reference,
                      insitu_curves,
                      station_cells,
                      table2,
                      table3,
)
from .context import (
                      ABLATION_YEARS,
                      MAX_CELL_GROUPS,
                      PAPER_PERIOD,
                      TABLE2_PERIOD,
                      TABLE3_PERIODS,
                      TABLE4_LITERATURE,
                      Context,
                      gia_regional_trends,
                      prepare,
                      regional_glacier_mass,
                      truth_as_solution,
)
from .centres import CENTRE_PERIOD, compare_centres, read_centre_comparison
from .closed_loop import (
                      interannual_reading,
                      limits_reading,
                      read_configuration_scores,
                      read_limit_scores,
                      read_scenario_scores,
                      scenario_reading,
                      weather_reading,
)
from .noise_spectra import noise_ratios, noise_reading, read_noise_spectra
from .ledger import (
                      committed_ledger_comparison,
                      ledger_table,
                      paper_numbers_from_solution,
                      read_committed_ledgers,
                      read_sensitivity,
)
from .trends import (
                      cell_trend_skill,
                      max_cell_trends,
                      regional_damping,
                      regional_trend_table,
                      soil_moisture_trend_table,
                      table4,
                      trend_field,
)

__all__ = [
    "Context", "prepare", "regional_glacier_mass", "gia_regional_trends", "truth_as_solution",
    "aster_reference", "table2", "table3", "insitu_curves", "station_cells", "ablation_table", "ablation_soil_moisture_share",
    "regional_trend_table", "cell_trend_skill", "regional_damping", "max_cell_trends", "table4", "trend_field", "soil_moisture_trend_table",
    "paper_numbers_from_solution", "ledger_table", "read_committed_ledgers", "read_configuration_scores", "read_limit_scores", "limits_reading", "read_scenario_scores", "scenario_reading", "read_sensitivity",
    "read_noise_spectra", "noise_ratios", "noise_reading", "interannual_reading", "weather_reading",
    "committed_ledger_comparison", "compare_centres", "read_centre_comparison", "CENTRE_PERIOD",
    "TABLE2_PERIOD", "TABLE3_PERIODS", "TABLE4_LITERATURE", "MAX_CELL_GROUPS", "PAPER_PERIOD", "ABLATION_YEARS",
]
