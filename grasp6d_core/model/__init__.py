"""The grasp network of "Generalizing 6-DoF Grasp Detection via Domain Prior Knowledge" (CVPR 2024), docs/model.md.

- :mod:`.spconv_shim`: spconv's CPU quirks, handled in one place.
- :mod:`.backbone`: voxelisation + sparse residual UNet.
- :mod:`.grouping`: multi-scale cylinder grouping with per-depth max-pooling and gated fusion.
- :mod:`.network`: graspable head, FPS seeds, approach head, operation head.
- :mod:`.losses`, :mod:`.regularizer`: Lo/Lgs/La/Lr/Lw/Ls and R (training targets: grasp6d_core.data.training_labels).
- :mod:`.decode`: network outputs -> GraspGroup rows.  :mod:`.detector`: GraspDetector (inference).
- :mod:`.consensus`: ranking a cloud's grasps by how many seeds agree on them (``scoring: consensus``).
- :mod:`.contact_prior`: contact maps, the prior network and test-time refinement.
Heavy (torch/spconv) imports live in the submodules, not here.
"""
