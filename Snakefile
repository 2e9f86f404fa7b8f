# satsim: similarity of neural architectures by adversarial attack transferability.
#   paper run:  snakemake --cores all --use-conda
#   demo:       snakemake --cores all --configfile configs/demo.yaml
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the paper run; a --configfile (e.g. configs/demo.yaml) replaces it whole, so
# that no paper setting leaks into the demo.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/predict.smk"
include: "rules/attack.smk"
include: "rules/transfer.smk"
include: "rules/sat.smk"
include: "rules/clusters.smk"
include: "rules/components.smk"
include: "rules/released.smk"
include: "rules/notebooks.smk"
include: "rules/ensembles.smk"
include: "rules/distillation.smk"
include: "rules/similarity.smk"
include: "rules/summary.smk"
include: "rules/bundle.smk"


rule all:
    default_target: True
    input:
        all_targets(),
