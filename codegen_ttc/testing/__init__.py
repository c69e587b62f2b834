"""pytest helpers shipped with the package."""
