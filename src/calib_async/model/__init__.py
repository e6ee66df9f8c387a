"""The export schema as frozen types: what the statistics produce and every reader reads.

:class:`CalibrationDocument` is calibration.yaml; ``from_dict``/``read`` check a loaded file
(CalibError naming the bad key), ``to_dict`` gives the mapping the YAML is written from. The
package imports nothing of the project but :mod:`calib_async.errors` and the schema version.
"""

from calib_async.model.document import (
    CalibrationDocument,
    MetadataModel,
    TierSettings,
    ValidationModel,
)
from calib_async.model.parts import (
    CanaryModel,
    CountsModel,
    DistributionModel,
    FlipsModel,
    LoadModel,
    RateCounts,
    StabilityModel,
)
from calib_async.model.statuses import (
    CanaryStatus,
    DistributionStatus,
    FlipStatus,
    LoadStatus,
    RateStatus,
    StationarityStatus,
    TierStatus,
)
from calib_async.model.tier import CONDITIONAL, RATES, RateModel, TierModel

__all__ = [
    "CONDITIONAL",
    "RATES",
    "CalibrationDocument",
    "CanaryModel",
    "CanaryStatus",
    "CountsModel",
    "DistributionModel",
    "DistributionStatus",
    "FlipStatus",
    "FlipsModel",
    "LoadModel",
    "LoadStatus",
    "MetadataModel",
    "RateCounts",
    "RateModel",
    "RateStatus",
    "StabilityModel",
    "StationarityStatus",
    "TierModel",
    "TierSettings",
    "TierStatus",
    "ValidationModel",
]
