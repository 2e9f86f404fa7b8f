"""Snakemake adapter: spectral clusters and a t-SNE embedding from the SAT matrix."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too


from satsim.analysis.clusters import spectral_clusters, tsne_embedding
from satsim.similarity.estimated_cells import read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params = snakemake.params
    sat, _ = read_run_sat(snakemake.input)
    clusters = spectral_clusters(sat, params.n_clusters, params.seed)
    embedding = tsne_embedding(sat, params.perplexity, params.seed)
    write_csv(snakemake.output.clusters, clusters.to_frame())
    write_csv(snakemake.output.embedding, embedding.join(clusters))
    print(clusters.sort_values().to_string())
