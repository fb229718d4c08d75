"""Every physical magnitude of the synthetic High Mountain Asia, with its source or reasoning.

Nothing here is fitted to data: the numbers are round values of the right order taken from the
literature quoted next to each one, chosen so that the synthetic world *behaves* like the real one
(regional glacier trends and seasonal cycles of the right size and phase, a leakage source of the
right size south of the box, GRACE-like striped errors). Every generator module reads its numbers
from here, and :func:`parameters_dict` (stored in ``hma_synthetic.json`` and hashed into the cache
key) serialises them, so changing any value changes the cache key.

References
----------
Bolch, T. et al. (2019), Status and change of the cryosphere in the extended Hindu Kush Himalaya
region, in The Hindu Kush Himalaya Assessment, Springer (HiMAP regions).
Brun, F. et al. (2017), Nat. Geosci. 10, 668-673 (regional glacier mass balance 2000-2016).
Shean, D. et al. (2020), Front. Earth Sci. 7:363 (HMA glacier loss -19 Gt/yr 2000-2018).
Hugonnet, R. et al. (2021), Nature 592, 726-731.
Wang, L., Shen, Y., Chen, Q., Wang, F. (2024), IEEE JSTARS (the paper: HMA -25.8 Gt/yr; largest
losses 5.46, 3.92, 3.79 Gt/yr; ablation 156.7 Gt, regional 1.5-32.0 Gt).
Zhang, G. et al. (2017), Geophys. Res. Lett. 44, 5550 (Tibetan lakes +4.8 Gt/yr 2002-2015).
Rodell, M. et al. (2009), Nature 460, 999 (north-India groundwater -4 cm/yr over 438,000 km2).
Farinotti, D. et al. (2015), Nat. Geosci. 8, 716 (Tien Shan glacier loss; 5-yr variability).
"""

from __future__ import annotations

import copy

#: Version of the generator; part of the cache key. Bump when the algorithm changes.
GENERATOR_VERSION = "1.2.0"  # 1.1.0: cell-centred quadrature of the 0.5 deg blocks (blocks_to_dh)
# 1.2.0: the noise at the lower bound of the real noise by default (NOISE_REAL_KNOTS, NOISE_REAL_GRACEFO); the
#        1.1.0 level is noise="low"

#: Default seed of the embedded world.
DEFAULT_SEED = 20240101

#: Reference epoch [decimal year] of trends and GIA (zero of the linear terms; arbitrary because every
#: consumer removes its own reference-period mean, METHODS.md §2.2).
T_REF = 2013.0

# ----------------------------------------------------------------------------------------------- grids
#: Extent of the gridded products written (cell centres inside) [deg]: covers 60-110E, 20-52N (contract).
PRODUCT_BOX = (60.0, 110.0, 20.0, 52.0)
#: Mascon box of the truth file (default region of the paper) [deg] (lon_min, lon_max, lat_min, lat_max).
TRUTH_BOX = (65.0, 105.0, 26.0, 47.0)
#: Resolution of the gridded products and of the glacier/lake blocks [deg].
CELL_DEG = 0.5
#: Maximum degree of the Driscoll-Healy analysis grid (0.25 deg, nodes at 0.25 deg multiples);
#: the quadrature is exact for fields band-limited to this degree, the files are truncated at NMAX.
ANALYSIS_LMAX = 359
#: Degree/order of the written GSM files (as CSR RL06).
NMAX = 96
#: Mean Earth density and water density of the EWH <-> Stokes conversion (Wahr et al. 1998).
RHO_EARTH = 5517.0
RHO_WATER = 1000.0

# ----------------------------------------------------------------------------------------------- glaciers
#: Glacier ranges: centre line (lon, lat) vertices, half width [deg], RGI-like glacier area [km2],
#: mass trend [Gt/yr], seasonal type, specific seasonal half-range [m w.e.], specific interannual
#: amplitude [m w.e.]. The first 16 are the paper's HiMAP regions (their polygons are the ranges
#: rasterised on the 0.5 deg grid, see regions.py). Areas: Bolch et al. (2019) / RGI 6.0 per HiMAP
#: region rounded (total ~1.0e5 km2, RGI 6.0 in the box: 9.8e4 km2). Trends: Brun et al. (2017) and
#: Shean et al. (2020) patterns scaled so that the 16 regions sum to -25 Gt/yr (the paper: -25.8); the
#: three largest losses use the paper's 5.46, 3.92, 3.79 Gt/yr (attribution by the issue: Central
#: Himalaya, Nyainqentanglha, Western Himalaya); weak Karakoram / Western Kunlun gain ("anomaly").
#: Seasonal half-range: total ablation of the paper 156.7 Gt over ~9e4 km2 -> ~0.87 m w.e. (ablation =
#: 2 x half-range x area); Karakoram 0.7 m w.e. x 22,800 km2 x 2 = 32 Gt (the paper's regional maximum).
GLACIER_RANGES = [
    # name, centre line, half width, area, trend, season type, half-range, interannual
    ("Central Himalaya", [(79.8, 30.6), (82.0, 29.6), (84.5, 28.6), (86.5, 28.0), (88.3, 27.8)], 0.7,
     9900.0, -5.46, "monsoon", 0.85, 0.15),
    ("Karakoram", [(74.0, 36.8), (75.5, 36.0), (77.0, 35.4), (78.5, 34.8)], 0.8, 22800.0, +0.50, "winter", 0.70, 0.10),
    ("Western Himalaya", [(73.5, 34.8), (75.5, 33.5), (77.5, 32.3), (79.5, 31.0)], 0.8, 8900.0, -3.79, "winter",
     0.85, 0.15),
    ("Eastern Himalaya", [(88.6, 27.9), (90.5, 28.0), (92.5, 27.9), (94.5, 28.6), (95.3, 29.2)], 0.6, 3900.0,
     -2.80, "monsoon", 0.90, 0.15),
    ("Nyainqentanglha", [(90.0, 30.4), (92.5, 30.2), (94.5, 29.8), (96.5, 29.6), (97.5, 29.2)], 0.7, 6900.0,
     -3.92, "monsoon", 1.00, 0.15),
    ("Eastern Hindu Kush", [(69.5, 35.0), (71.5, 36.0), (73.5, 36.6)], 0.7, 4600.0, -1.20, "winter", 0.85, 0.12),
    ("Western Kunlun Shan", [(76.5, 37.2), (79.0, 35.9), (81.5, 35.6), (83.5, 36.0)], 0.7, 8300.0, +0.30,
     "winter", 0.60, 0.08),
    ("Western Pamir", [(70.5, 37.5), (72.5, 38.5), (73.6, 39.0)], 0.8, 4800.0, -1.30, "winter", 0.95, 0.15),
    ("Eastern Pamir", [(74.2, 38.0), (75.2, 38.6), (76.0, 39.3)], 0.6, 2100.0, -0.30, "winter", 0.80, 0.10),
    ("Pamir Alay", [(67.0, 39.3), (70.0, 39.5), (73.5, 39.7)], 0.5, 1800.0, -0.60, "winter", 1.00, 0.20),
    ("Central Tien Shan", [(76.0, 41.2), (78.2, 41.8), (80.5, 42.1), (84.0, 42.6)], 0.7, 7600.0, -2.40, "winter",
     0.95, 0.15),
    ("Northern/Western Tien Shan", [(70.0, 41.8), (73.0, 42.4), (75.5, 42.8), (77.5, 43.1), (80.0, 43.4)], 0.5,
     2300.0, -1.00, "winter", 1.00, 0.20),
    ("Eastern Tien Shan", [(81.0, 43.6), (86.0, 43.6), (90.0, 43.3), (94.5, 43.2)], 0.6, 2400.0, -0.80, "winter",
     0.90, 0.15),
    ("Dzhungarsky Alatau", [(78.5, 45.1), (82.0, 45.2)], 0.6, 600.0, -0.50, "winter", 1.00, 0.20),
    ("Gangdise Mountains", [(80.5, 31.8), (83.5, 30.9), (86.0, 30.5), (89.5, 30.4)], 0.5, 1500.0, -0.90, "monsoon",
     0.80, 0.12),
    ("Tanggula Shan", [(90.5, 32.8), (92.5, 33.0), (94.5, 32.7)], 0.6, 2200.0, -0.80, "monsoon", 0.80, 0.12),
    # glacierised ranges outside the paper's 16 regions (they load the field, they are not summed)
    ("Hengduan Shan", [(98.5, 29.5), (99.5, 28.0), (101.8, 29.6)], 0.6, 1400.0, -1.00, "monsoon", 1.00, 0.12),
    ("Tibetan Interior Mountains", [(82.0, 34.0), (86.0, 34.5), (90.0, 34.8)], 0.6, 3900.0, -0.30, "monsoon",
     0.60, 0.08),
    ("Qilian Shan", [(94.0, 39.0), (97.0, 38.8), (100.0, 38.0), (102.0, 37.2)], 0.6, 1600.0, -0.30, "monsoon",
     0.60, 0.10),
    ("Eastern Kunlun Shan", [(84.0, 36.3), (88.0, 36.6), (92.0, 36.3), (96.0, 35.8)], 0.5, 2300.0, -0.20,
     "monsoon", 0.60, 0.08),
    ("Altun Shan", [(87.0, 38.3), (91.0, 38.9)], 0.4, 300.0, -0.05, "monsoon", 0.60, 0.08),
    ("Eastern Tibetan Mountains", [(99.0, 33.5), (101.0, 33.0)], 0.4, 600.0, -0.15, "monsoon", 0.70, 0.10),
]

#: Number of HiMAP regions of the paper (the first entries of GLACIER_RANGES).
N_PAPER_REGIONS = 16

#: Seasonal cycle shapes (fraction of year of the mass maximum, of the mass minimum). Winter-accumulation
#: glaciers (Tien Shan, Pamir, Karakoram, Hindu Kush, W Himalaya): gain Oct-Apr, maximum end of April,
#: ablation May-Sep, minimum end of September (Bolch et al. 2019). Summer-accumulation (monsoon) glaciers:
#: accumulation and ablation both in summer, so the mass keeps rising into the early monsoon and the
#: maximum is early July, the minimum early November (Fujita & Ageta 2000, Yala glacier).
SEASON_SHAPES = {"winter": (0.33, 0.75), "monsoon": (0.50, 0.85)}

#: Spread of the cell-to-cell trend factor inside a range (lognormal sigma): trends are not simply
#: proportional to glacier area (debris cover, hypsometry).
TREND_TEXTURE_SIGMA = 0.4
#: Spread of the glacier-area texture inside a range (lognormal sigma).
AREA_TEXTURE_SIGMA = 0.6
#: Largest glacier fraction of a 0.5 deg cell (densest Karakoram cells are ~40-50 % ice).
MAX_GLACIER_FRACTION = 0.55
#: Interannual variability: number of sinusoids and their period range [yr].
INTERANNUAL_N_TERMS = 4
INTERANNUAL_PERIODS = (2.0, 8.0)
#: Quasi-5-year oscillation of Tien Shan glaciers (Farinotti et al. 2015): period [yr], specific amplitude
#: [m w.e.] and the ranges that carry it.
TIENSHAN_OSCILLATION = {"period": 5.0, "amplitude": 0.30,
                        "ranges": ["Central Tien Shan", "Northern/Western Tien Shan", "Eastern Tien Shan",
                                   "Dzhungarsky Alatau"]}
#: Shared weather of the ``interannual="regional"`` world (:func:`glaciers.glacier_terms`): the
#: interannual series of two ranges correlate as exp(-d / L), d the great-circle distance between the
#: mean points of their centre lines [km]. Mass balances of glaciers some hundreds of km apart correlate
#: (Letreguilly & Reynaud 1989; Cogley & Adams 1998); L is a round value of that order, not a fit.
INTERANNUAL_CORRELATION_KM = 500.0
#: Acceptance ranges of the regional truth (Gt/yr) checked by the tests.
ACCEPT_HMA_TREND = (-28.0, -22.0)

# ----------------------------------------------------------------------------------------------- lakes
#: Inner-Tibetan lakes (name, lat, lon, relative share). Positions rounded from the lake atlases; shares
#: roughly follow the observed storage gains (Selin Co, Nam Co and the Hoh Xil lakes largest).
LAKES = [
    ("Selin Co", 31.8, 89.0, 3.0), ("Nam Co", 30.7, 90.6, 1.5), ("Zhari Namco", 31.0, 85.6, 1.0),
    ("Dangra Yumco", 31.2, 86.6, 1.0), ("Ngangla Ringco", 31.5, 83.1, 0.8), ("Taro Co", 31.1, 84.1, 0.5),
    ("Tangra Yumco", 31.0, 86.6, 0.4), ("Ringco", 32.9, 88.2, 0.5), ("Dogai Coring", 34.5, 89.0, 1.2),
    ("Xijir Ulan", 35.2, 90.3, 0.8), ("Ulan Ul", 34.8, 90.5, 1.0), ("Hoh Xil", 35.6, 91.1, 1.0),
    ("Zhuonai", 35.5, 91.9, 0.8), ("Lixi Oidaim", 35.1, 93.0, 0.5), ("Dorsoidong Co", 33.4, 89.8, 0.8),
    ("Chibuzhang Co", 33.5, 90.3, 0.6), ("Ayakkum", 37.5, 89.4, 1.2), ("Aqqikkol", 37.1, 88.4, 0.7),
    ("Jingyu", 36.4, 89.4, 0.6), ("Lumajangdong", 34.0, 81.6, 0.5), ("Bangong", 33.7, 79.8, 0.2),
    ("Migriggyangzham", 33.4, 90.3, 0.5), ("Gozha Co", 35.0, 81.1, 0.4), ("Pangkog Co", 31.8, 89.6, 0.4),
    ("Puma Yumco", 28.6, 90.4, -0.1), ("Yamzho Yumco", 29.0, 90.7, -0.2), ("Qinghai", 36.9, 100.2, 0.8),
    ("Har", 38.3, 97.6, 0.3),
]
#: Total lake storage gain [Gt/yr] (Zhang et al. 2017: +4.8 Gt/yr; the paper's "a few Gt/yr").
LAKE_TOTAL_TREND = 4.5
#: Seasonal half-range as a fraction of the annual gain, peak end of September (post-monsoon maximum).
LAKE_SEASONAL_FRACTION = 0.4
LAKE_SEASON_PEAK = 0.74
#: Interannual amplitude as a fraction of the annual gain (one common climate series).
LAKE_INTERANNUAL_FRACTION = 0.8
#: Prior lake series: end (last month), relative noise of the cumulative storage.
LAKE_PRIOR_END = "2017-12"
LAKE_PRIOR_NOISE_CM = 2.0

# ----------------------------------------------------------------------------------------------- hydrology
#: Soil moisture + surface water annual half-range [cm]: largest over the Brahmaputra/Ganges plains and
#: the south-east (GRACE: 15-25 cm), a few cm on the plateau and in the arid north-west.
SOIL_AMPLITUDE_MAX_CM = 12.0
#: Soil-moisture phase (fraction of year of the maximum): monsoon peak early September in the south-east,
#: late winter/spring (westerlies) in the north-west.
SOIL_PEAK_SE = 0.68
SOIL_PEAK_NW = 0.20
#: Snow water equivalent half-range [cm] over the high ranges, maximum in March.
SNOW_AMPLITUDE_CM = 3.0
SNOW_PEAK = 0.20
#: Groundwater depletion (Rodell et al. 2009; Chen et al. 2014): Gaussian lobes (lat, lon, sigma_lat,
#: sigma_lon [deg], peak rate [cm/yr]). Centres south of the box edge (26N) so most of the loss is
#: outside the box, the classic leakage source.
GROUNDWATER_LOBES = [(26.0, 75.5, 2.5, 4.0, -2.0), (25.0, 83.0, 2.0, 4.0, -1.0), (30.5, 72.0, 1.8, 2.5, -1.2)]
#: Interannual hydrology: number of smooth patterns, their radius [deg] and amplitude [cm].
HYDRO_INTERANNUAL_N = 5
HYDRO_INTERANNUAL_RADIUS = 4.0
HYDRO_INTERANNUAL_CM = 3.0
#: Edge taper of the hydrology domain (lon_min, lon_max, lat_min, lat_max, width) [deg]: outside of it
#: the synthetic world has no hydrology.
HYDRO_DOMAIN = (50.0, 120.0, 10.0, 56.0, 4.0)
#: Prior hydrology model (WGHM-like): end month, phase error [yr] and amplitude factor, no groundwater.
HYDRO_MODEL_END = "2017-12"
HYDRO_MODEL_PHASE_ERROR = 1.0 / 12.0
HYDRO_MODEL_AMPLITUDE_FACTOR = 0.75
HYDRO_MODEL_NOISE_CM = 1.0
#: GLDAS-like soil moisture: period, amplitude factor, noise [cm].
SOIL_MODEL_PERIOD = ("2002-01", "2023-12")
SOIL_MODEL_AMPLITUDE_FACTOR = 0.9
SOIL_MODEL_NOISE_CM = 0.7

# ----------------------------------------------------------------------------------------------- GIA
#: Smooth GIA apparent-EWH rate: Gaussian lobes (lat, lon, sigma [deg], rate [mm/yr]) -- ICE-6G_D gives
#: about +-1 mm/yr EWH over HMA (Tibetan Plateau deglaciation is disputed; small signals either way).
GIA_LOBES = [(33.0, 88.0, 8.0, 1.2), (42.0, 78.0, 5.0, -0.6), (28.0, 100.0, 6.0, 0.5)]
#: Two alternative GIA models: (name, scale, extra lobe) -- spread of ~30-50 % like ICE-6G_D vs Caron.
GIA_ALTERNATIVES = [("Caron_et_al_2018", 0.6, (35.0, 95.0, 6.0, 0.4), 89),
                    ("Caron_Ivins_2019", 1.35, (30.0, 80.0, 6.0, -0.3), 89)]

# ----------------------------------------------------------------------------------------------- noise
#: Per-coefficient error of the Stokes coefficients (4pi-normalised), log-linear in degree between
#: (degree 2, degree 96): scaled so that a 300 km Gaussian-smoothed noise map has ~1.5 cm EWH std (GRACE RL06 residual level).
#: This is the "low" level (``generate_world(noise="low")``, the default of generator 1.1.0). Measured against
#: real GRACE (chapter 9, scripts/noise_spectra.py): over degrees 30-96 it is 0.29 (GRACE) and 0.52 (GRACE-FO) of
#: the real noise's lower bound, (CSR - ITSG)/sqrt 2, so a closed loop at this level is easier than reality.
NOISE_SIGMA_LOW = 4.5e-13
NOISE_SIGMA_HIGH = 3.0e-12
#: The default level since generator 1.2.0 ("real"): sigma_n times a factor interpolated linearly in degree
#: between these (degree, factor) knots, which bring the noise's degree RMS to the lower bound of the real
#: noise, (CSR RL06 - ITSG-Grace2018)/sqrt(2) over the GRACE months (9-degree running median of the ratio;
#: scripts/noise_spectra.py, reproduction/noise_spectra.csv of 2026-12-07). The same factor scales the stated
#: sigmas.
NOISE_REAL_KNOTS = [(2, 7.0), (5, 5.5), (10, 2.49), (15, 1.84), (20, 1.28), (25, 1.05), (30, 1.11), (40, 1.17),
                    (50, 1.87), (55, 1.87), (60, 2.89), (65, 3.64), (70, 3.74), (80, 4.21), (90, 4.58), (96, 4.51)]
#: ... and from this month on (GRACE-FO) times this factor: with the knots alone the GRACE-FO noise is 1.32
#: times its lower bound over degrees 30-96 (real GRACE-FO is quieter than GRACE: 0.29 / 0.52 of the bounds).
NOISE_REAL_GRACEFO = ("2018-06", 0.76)
#: Order dependence: sigma_nm = sigma_n (1 + NOISE_ORDER_BOOST (1 - m/n)); near-zonal worse (polar orbit).
NOISE_ORDER_BOOST = 0.5
#: Fraction of variance correlated across degrees of the same parity within one order, and the
#: correlation length [steps of 2 degrees]: this is what makes north-south stripes.
NOISE_CORRELATED_FRACTION = 0.85
NOISE_CORRELATION_LENGTH = 8.0
#: Per-month sigma factors: (first month, last month, factor). Early GRACE (2002-2003), the end of GRACE
#: (battery management 2016-2017) and the GRACE-FO start (2018) are worse.
NOISE_MONTH_FACTORS = [("2002-04", "2003-06", 1.6), ("2016-09", "2017-06", 1.8), ("2018-06", "2018-12", 1.8)]
#: Per-month random factor (lognormal sigma) on top.
NOISE_MONTH_SCATTER = 0.15
#: C20 and C30 in the GSM files are degraded (as in reality): extra noise std (Stokes).
C20_GSM_NOISE = 3.0e-10
C30_GSM_NOISE_GRACEFO = 2.0e-10
C30_GSM_NOISE_GRACE = 2.0e-11
#: SLR (TN-14) sigmas and TN-13 degree-1 sigmas (order of the real files).
C20_SLR_SIGMA = 1.7e-11
C30_SLR_SIGMA = 3.0e-11
DEG1_SIGMA = 4.5e-11
#: Mean C20 / C30 of TN-14 (the real file's constants) and the static field's Kaula-rule constant.
C20_MEAN = -4.841694573200e-04
C30_MEAN = 9.571647583412e-07
KAULA = 1.0e-5

# ----------------------------------------------------------------------------------------------- priors
#: ASTER-like glacier series: period, length of the multi-year rate windows [yr], relative error of the
#: per-cell rate, regional bias (relative) -- Hugonnet et al. (2021) 5-year rates, errors ~20-30 %.
ASTER_PERIOD = ("2002-01", "2019-12")
ASTER_WINDOW_EDGES = [2000.0, 2005.0, 2010.0, 2015.0, 2020.0]
ASTER_CELL_ERROR = 0.25
ASTER_REGION_BIAS = 0.10

# ----------------------------------------------------------------------------------------------- scenarios
#: Wrong-prior scenarios (issue 11, suspect 8): worlds whose truth departs from what the priors carry.
#: ``range``: the GLACIER_RANGES entry whose true trend becomes ``trend`` [Gt/yr]; the priors (the
#: ASTER-like series) keep the range's original trend, the truth, the coefficients and the stations get
#: the new one, and ``truth.nc`` carries the departure as the component ``scenario``. The Karakoram's
#: prior says +0.50 Gt/yr (the "Karakoram anomaly"); the scenario makes it lose 2.0 Gt/yr, as a region
#: whose prior has the wrong sign, where the rate-based prior variance is small.
SCENARIOS = {
    "karakoram_loss": {"range": "Karakoram", "trend": -2.0,
                       "doc": "the Karakoram loses 2.0 Gt/yr while its glacier prior says +0.5 (wrong sign)"},
}

# ----------------------------------------------------------------------------------------------- in situ
#: The paper's stations (Table III; AMB-17): WGMS id, name, political unit, lat, lon, RGI id, first and
#: last balance year, glacier area [km2], local amplification of the cell-specific balance, local noise
#: [mm w.e.]. Small glaciers lose more than the cell mean (amplification > 1).
STATIONS = [
    (912, "YALA", "NP", 28.24, 85.61, "RGI60-15.03954", 2012, 2022, 1.61, 1.3, 250.0),
    (817, "TS.TUYUKSUYSKIY", "KZ", 43.05, 77.07, "RGI60-13.08624", 2006, 2022, 2.25, 1.4, 250.0),
    (3889, "GLACIER NO. 354 (AKSHIYRAK)", "KG", 41.81, 78.13, "RGI60-13.07064", 2011, 2022, 6.45, 1.2, 200.0),
    (732, "ABRAMOV", "KG", 39.65, 71.57, "RGI60-13.18096", 2012, 2022, 24.0, 1.2, 250.0),
]


def parameters_dict() -> dict:
    """All module-level parameters as a JSON-serialisable dict (stored and hashed into the cache key)."""
    out = {}
    for key, value in globals().items():
        if key.isupper():
            out[key] = copy.deepcopy(value)

    def _json(obj):
        if isinstance(obj, tuple):
            return [_json(v) for v in obj]
        if isinstance(obj, list):
            return [_json(v) for v in obj]
        if isinstance(obj, dict):
            return {k: _json(v) for k, v in obj.items()}
        return obj

    return _json(out)
