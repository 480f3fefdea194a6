"""imagetrail: map container images from registries and clusters to the runs that built them."""

__version__ = "0.1.0"
