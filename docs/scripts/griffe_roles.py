"""A griffe extension for the API reference, so that nudge's docstrings read well as Markdown:

* Sphinx roles (:func:`name`, :class:`name`, ...), which Markdown would show as they are,
  become inline code, `name`;
* in a numpy-style ``Parameters`` list, ``name : text`` is read as a name and its
  description (nudge writes descriptions there; the types are in the signature), and a
  paragraph after the list that is not itself a parameter (``Learned state: ...``) gets a
  ``Notes`` heading instead of being read as one more parameter;
* a class's attributes without a docstring are left out (a dataclass's fields are in its
  signature; ``self.sizes = sizes`` says nothing more).

Loaded by mkdocs.yml (mkdocstrings' ``extensions`` option); the source is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`~?\.?([^`]+)`")
SECTION = re.compile(r"^(Parameters|Returns|Yields|Raises|Attributes)\n-{3,}\n", re.M)
PARAMETER = re.compile(r"^[\w*]+\s*:")          # "name : description"
DESCRIBED = re.compile(r"^([\w*]+) : (.+)$", re.M)
HEADING = re.compile(r"^\w[\w ,()]*\n-{3,}")    # the next numpy section


def close_sections(text: str) -> str:
    for m in list(SECTION.finditer(text))[::-1]:
        head, rest = text[:m.end()], text[m.end():]
        blocks = rest.split("\n\n")
        for i, block in enumerate(blocks):
            block = block.lstrip("\n")
            if i and HEADING.match(block):
                break
            if i and block and not block[0].isspace() and not PARAMETER.match(block):
                blocks[i] = "Notes\n-----\n" + block
                break
            blocks[i] = DESCRIBED.sub(r"\1\n    \2", blocks[i])
        text = head + "\n\n".join(blocks)
    return text


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = close_sections(ROLE.sub(r"`\1`", obj.docstring.value))

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _drop_bare_attributes(pkg)


def _drop_bare_attributes(obj: griffe.Object) -> None:
    for name, member in list(obj.members.items()):
        if member.is_alias:
            continue
        if obj.is_class and member.is_attribute and member.docstring is None \
                and "property" not in member.labels:
            del obj.members[name]
        elif member.is_class or member.is_module:
            _drop_bare_attributes(member)
