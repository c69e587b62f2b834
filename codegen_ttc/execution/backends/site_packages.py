"""Where an interpreter keeps installed packages, and which entries there belong to a
given set of distributions and to what they require (extras aside), transitively.

bwrap hides every such directory from the candidate but for these entries. Standard
library only, so any interpreter can run it as a script (``python -I site_packages.py
NAME...`` prints the layout as JSON): the sandbox's interpreter need not be ours.
"""

from __future__ import annotations

import glob
import importlib.metadata as md
import json
import os
import re
import site
import sys
import sysconfig


def site_dirs() -> set[str]:
    """Every directory this interpreter (or a venv's base interpreter) installs packages in."""
    dirs = set(site.getsitepackages()) | {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    dirs |= {p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        dirs |= set(glob.glob(os.path.join(prefix, "lib*", "python3*", "*-packages")))
    return {os.path.realpath(d) for d in dirs if os.path.isdir(d)}


def layout(packages) -> dict[str, list[str]]:
    """{"site": site directories, "keep": their top-level entries of ``packages``}."""
    dirs = site_dirs()
    todo, seen, keep = list(packages), set(), set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        for req in dist.requires or ():
            if "extra" not in req.partition(";")[2] and (project := re.match(r"[A-Za-z0-9._-]+", req)):
                todo.append(project.group())
        base = os.path.realpath(str(dist.locate_file("")))
        if base not in dirs:
            continue  # e.g. an editable install: its files are not in a site directory
        for f in dist.files or ():
            parts = f.parts  # relative to base; no stat per file (scipy and sympy list thousands)
            if not parts or parts[0] == "..":
                continue  # scripts and data installed outside the site directory
            # a top-level module's bytecode: that file, not the __pycache__ of every module
            keep.add(os.path.join(base, *parts[: 2 if parts[0] == "__pycache__" else 1]))
    return {"site": sorted(dirs), "keep": sorted(keep)}


if __name__ == "__main__":
    print(json.dumps(layout(sys.argv[1:])))
