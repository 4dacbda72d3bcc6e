class Frame:
    """A data container used for everything: configured as opaque."""
