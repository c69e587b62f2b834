"""The orchestrators: ``solve`` and the adaptive sampling loop, which run the pipeline's stages."""
