"""creditlab inside other RL stacks: verl, TRL and Ray Data.

Each submodule imports its peer package (``creditlab.integrations.verl`` imports verl,
``creditlab.integrations.ray`` imports ray); this package itself imports nothing heavy,
and nothing else in creditlab imports these submodules or their peers.

verl
    ``import creditlab.integrations.verl`` registers ``creditlab_gae``,
    ``creditlab_grpo``, ``creditlab_rloo`` and ``creditlab_min_form`` in verl's
    advantage-estimator registry; then ``algorithm.adv_estimator=creditlab_grpo``.
    ``pip install creditlab`` also declares a ``verl.plugins`` entry point, so
    ``import verl`` loads it by itself (see the module docstring).
TRL
    No adapter is needed: the recipe is in the README ("creditlab inside RL pipelines").
Ray Data
    :mod:`creditlab.integrations.ray`: returns and advantages over Parquet rollout logs,
    one episode per group, the kernels called once per block.
"""

__all__: list[str] = []
