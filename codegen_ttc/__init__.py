"""codegen-ttc: turn extra inference-time compute into correct code.

The pipeline, one subpackage per stage:
problems -> sampling -> testgen -> execution -> clustering -> selection -> reports.
"""

__version__ = "0.1.0"
