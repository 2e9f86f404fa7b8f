# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring a satsim run
#
# This notebook walks through one run's results: the SAT matrix, the spectral clusters, what the
# clusters have in common, and which architectural components predict similarity. The workflow
# executes it (rule `notebooks`) with `RUN_DIR` and `FIGURES_DIR` set for the run; to open it by
# hand, set them in the next cell.

# %% tags=["parameters"]
RUN_DIR = "results/demo"
FIGURES_DIR = "results/demo/figures"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, display

run = Path(RUN_DIR)
figures = Path(FIGURES_DIR)
sat = pd.read_csv(run / "sat" / "sat.csv", index_col=0)
clusters = pd.read_csv(run / "analysis" / "clusters.csv", index_col=0)["cluster"]
print(f"{len(sat)} models; SAT from {sat.to_numpy().min():.2f} to {sat.to_numpy().max():.2f}")

# %% [markdown]
# ## The SAT matrix
#
# SAT = ln(transfer rate in %), so 4.61 means adversarial images always transfer. The diagonal
# is ln(100 × white-box success). Below: the spread of off-diagonal values, and each model's most
# and least similar partner.

# %%
values = sat.to_numpy(dtype=float)
upper = values[np.triu_indices(len(sat), k=1)]
print(pd.Series(upper).describe().round(3).to_string())
off = sat.where(~np.eye(len(sat), dtype=bool))
partners = pd.DataFrame(
    {
        "most similar": off.idxmax(axis=1),
        "SAT (most)": off.max(axis=1).round(2),
        "least similar": off.idxmin(axis=1),
        "SAT (least)": off.min(axis=1).round(2),
    }
)
partners

# %%
figure, axis = plt.subplots(figsize=(5, 3))
axis.hist(upper, bins=30, color="tab:blue")
axis.set_xlabel("SAT of a model pair (natural log)")
axis.set_ylabel("number of pairs")
axis.set_title("Off-diagonal SAT values")
plt.show()

# %% [markdown]
# ## Clusters
#
# Spectral clusters of the SAT matrix (fig1: t-SNE; fig2: the matrix ordered by cluster), their
# members, and the component values that are over-represented in each cluster.

# %%
display(Image(filename=str(figures / "fig1.png"), width=650))
display(Image(filename=str(figures / "fig2.png"), width=650))

# %%
members = pd.read_csv(run / "analysis" / "cluster_members.csv")
members

# %%
values_table = pd.read_csv(run / "analysis" / "cluster_component_values.csv")
values_table.groupby("cluster").head(3)

# %%
stability = pd.read_csv(run / "analysis" / "cluster_stability.csv")
print(
    f"mean ARI of {len(stability)} seeds against the run's clustering: "
    f"{stability['ari_vs_run_seed'].mean():.3f}"
)

# %% [markdown]
# ## Which components make models similar
#
# fig3: a random forest predicts each pair's SAT from whether the two models share each of the
# 13 components; the bars are permutation importances on held-out pairs. fig4: SAT of pairs that
# share a component vs pairs that don't.

# %%
importance = pd.read_csv(run / "analysis" / "component_importance.csv")
print(f"cross-validated R² = {importance['cv_r2_mean'].iloc[0]:.3f}")
importance[["component", "importance", "importance_std", "share_rate"]]

# %%
display(Image(filename=str(figures / "fig3.png"), width=600))
effects = pd.read_csv(run / "analysis" / "shared_component_effects.csv")
effects.sort_values("cliffs_delta", ascending=False)

# %%
display(Image(filename=str(figures / "fig4.png"), width=800))
