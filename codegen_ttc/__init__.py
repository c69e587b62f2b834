"""codegen-ttc: turn extra inference-time compute into correct code.

One subpackage per layer; a package imports only the layers below it (enforced by
``lint-imports``, see ``[tool.importlinter]`` in pyproject.toml). Top to bottom:

- ``cli``: the ``codegen-ttc`` command
- ``reports`` (``score`` runs, curves, replay) | ``suggest`` (the patch suggester)
- ``engine``: the orchestrators, ``solve`` and the adaptive sampling loop
- ``testgen``: inputs and tests made for a problem
- ``pipeline``: ``Task``, what is known about one problem, and its pure stages
- ``selection`` | ``execution`` (sandboxes, judge, store) | ``sampling`` (the LLM)
- ``clustering`` | ``problems``
- ``runtime`` (the sandbox-side runner and wire format, standard library only) | ``errors``
"""

__version__ = "0.1.0"
