"""Write ``book/01_grids.ipynb``, the book's small demo notebook (unexecuted, no outputs).

Kept as a script so the notebook's JSON stays reviewable and reproducible:
``python scripts/make_demo_notebook.py``.
"""

from pathlib import Path

import nbformat as nbf

OUT = Path(__file__).resolve().parents[1] / "book" / "01_grids.ipynb"

md_intro = r"""# The mascon and observation grids

This page draws the two grids every solution in this book is built on (METHODS.md section 3).

**Mascons.** Point masses sit at the centres of $0.5^\circ$ cells of the box
$65$–$105^\circ$E, $26$–$47^\circ$N, on the GRS80 ellipsoid (Ditmar 2018). Each carries the equivalent
water height $x_j$ [m] of its cell, so its mass is $M_j = \rho_w S_j x_j$, with the ellipsoidal cell area

$$
S_j = a^2 (1-e^2)\,\Delta\lambda \left[ F(\varphi_n) - F(\varphi_s) \right],
$$

$$
F(\varphi) = \frac{\sin\varphi}{2(1-e^2\sin^2\varphi)} + \frac{1}{4e}\ln\frac{1+e\sin\varphi}{1-e\sin\varphi}.
$$

**Observations.** Pseudo-observations of the radial gravity disturbance $\delta g = -\partial T/\partial r$
are synthesised from the Stokes coefficients on a $0.4^\circ$ grid on the sphere $r_i = a_s + H$
(the altitude $H$ is the parameter `altitude_km`, [AMB-2]). Each observation sees mascon $j$ through the
point-mass kernel

$$
A^{g}_{ij} = G \rho_w S_j \, \frac{r_i - d_j \cos\psi_{ij}}{l_{ij}^{3}}, \qquad
l_{ij} = \sqrt{r_i^2 + d_j^2 - 2 r_i d_j \cos\psi_{ij}} ,
$$

which is positive for a mass excess directly below (section 5, [AMB-5])."""

params_src = """# Parameters: papermill injects what `hma-mascon book --preset NAME -p name=value` was given.
data = "synthetic"   # or "real" (then data_dir, or HMA_MASCON_DATA)
data_dir = None
preset = "default"   # hma_mascon.params.PRESETS: "default" or "paper"
overrides = {}       # any row of hma_mascon.params.PARAMETERS, e.g. {"altitude_km": 400, "kernel": "truncated"}"""

setup_src = """import numpy as np
import matplotlib.pyplot as plt

import hma_mascon.book as hb
from hma_mascon import geometry, maps

# Validates the parameters above (clear error on a wrong value) and shows what built this page.
params = hb.setup_notebook(globals(), need_data=False)"""

grid_src = """box = params.box
mascons = geometry.mascon_grid(box, resolution=params.mascon_step_deg)
obs = geometry.observation_grid(box, resolution=params.obs_step_deg, altitude=params.altitude_km * 1e3)
area = mascons.to_dataarray(mascons.area / 1e6, name="cell_area", units="km2",
                            long_name="ellipsoidal cell area")
print(f"mascons: {mascons.shape[0]} x {mascons.shape[1]} = {mascons.size} cells")
print(f"observations: {obs.shape[0]} x {obs.shape[1]} = {obs.size} points at H = {params.altitude_km:g} km")
print(f"box area: {float(area.sum()):.4g} km2; cell area {float(area.min()):.1f} .. {float(area.max()):.1f} km2")
# A mascon cell shrinks towards the pole like cos(latitude): a check on the grid, not decoration.
ratio = float(area.isel(lat=-1).mean() / area.isel(lat=0).mean())
expected = np.cos(np.deg2rad(area.lat[-1])) / np.cos(np.deg2rad(area.lat[0]))
assert abs(ratio / float(expected) - 1) < 0.01, (ratio, float(expected))"""

map_md = r"""The map shows the area $S_j$ of each mascon cell (it shrinks like $\cos\varphi$ towards the north)
and every fourth observation node (black dots); coastlines and borders come from the shipped Natural
Earth extract, so the page is built offline."""

map_src = """ax = maps.map_axes((box[0] - 5, box[1] + 5, box[2] - 4, box[3] + 4), figsize=(8.5, 4.8))
maps.plot_field(area, ax=ax, cmap="viridis", alpha=0.85)
maps.add_box(box, ax=ax)
lat2, lon2 = obs.lat.reshape(obs.shape), obs.lon.reshape(obs.shape)
maps.plot_points(lon2[::4, ::4], lat2[::4, ::4], ax=ax, s=0.6, color="k")
ax.set_title(f"{mascons.size} mascons ({params.mascon_step_deg:g}°) and {obs.size} observation points "
             f"({params.obs_step_deg:g}°, H = {params.altitude_km:g} km)", fontsize=10)
plt.show()"""

nb = nbf.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nb.cells = [
    nbf.v4.new_markdown_cell(md_intro),
    nbf.v4.new_code_cell(params_src, metadata={"tags": ["parameters"]}),
    nbf.v4.new_code_cell(setup_src),
    nbf.v4.new_code_cell(grid_src),
    nbf.v4.new_markdown_cell(map_md),
    nbf.v4.new_code_cell(map_src),
]
for i, cell in enumerate(nb.cells):
    cell["id"] = f"cell-{i}"
nbf.write(nb, OUT)
print(f"wrote {OUT}")
