"""Liquid-argon TPC events, in four modules re-exported here (the command line and
older code import them from this one place):

- :mod:`.events`: the PILArNet-M layout's constants, :class:`RawEvent` and :class:`Event`;
- :mod:`.simulator`: the embedded event simulator (:func:`simulate_event`,
  :func:`make_lartpc`);
- :mod:`.pilarnet`: writing and reading PILArNet-M files, :class:`EventSource`,
  :func:`read_events`, :func:`count_events`;
- :mod:`.manifests`: split manifests over event ranges of several files;
- :mod:`.preprocessing`: PoLAr-MAE's preprocessing and the branching points.
"""

from .events import (  # noqa: F401
    CLASS_NAMES,
    CLUSTER_COLUMNS,
    CLUSTER_EXTRA_COLUMNS,
    COORD_SCALE,
    DELTA,
    LAYOUTS,
    LOW_ENERGY,
    MICHEL,
    POINT_COLUMNS,
    SHOWER,
    SPLIT_OFFSETS,
    TRACK,
    VOLUME_SIZE,
    Event,
    RawEvent,
)
from .manifests import (  # noqa: F401
    MANIFEST_FORMAT,
    SplitPart,
    is_split_manifest,
    read_split_manifest,
    write_split_manifest,
)
from .pilarnet import EventSource, count_events, read_events, write_pilarnet  # noqa: F401
from .preprocessing import (  # noqa: F401
    branching_mask,
    log_energy,
    normalize_coordinates,
    passes_preprocessing,
    preprocess_event,
    preprocessing_defaults,
    resolve_preprocessing,
    voxel_coordinates,
)
from .simulator import make_lartpc, simulate_event  # noqa: F401
