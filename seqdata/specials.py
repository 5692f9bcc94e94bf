"""Special tokens: the roles a vocabulary may reserve at its leading ids, checked once.

>>> check_specials({"pad": "<pad>", "unk": "<unk>", "start": "<s>"})
Traceback (most recent call last):
...
seqdata.errors.SpecialTokenError: unknown special name 'start'; ...
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from seqdata.errors import SpecialTokenError

__all__ = ["DEFAULT_SPECIALS", "SPECIAL_ROLES", "SpecialIds", "check_specials", "special_id_of"]

#: The default specials, in id order: ``PAD=0, UNK=1, SOS=2, EOS=3``.
DEFAULT_SPECIALS: Mapping[str, str] = MappingProxyType(
    {"pad": "<pad>", "unk": "<unk>", "sos": "<sos>", "eos": "<eos>"}
)
#: The special roles a vocabulary may have; ``pad`` and ``unk`` are required.
SPECIAL_ROLES = ("pad", "unk", "sos", "eos", "mask", "sep", "cls")
_REQUIRED = ("pad", "unk")


def check_specials(
    specials: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    path: str | os.PathLike[str] | None = None,
    line: int | None = None,
) -> dict[str, str]:
    """Validate a role → token mapping (id order = mapping order).

    Raises:
        SpecialTokenError: an unknown role name, a role given twice, two roles sharing one
            token, an empty token, or a missing ``pad``/``unk``.

    >>> check_specials({"pad": "<pad>", "unk": "<unk>", "start": "<s>"})
    Traceback (most recent call last):
    ...
    seqdata.errors.SpecialTokenError: unknown special name 'start'; ...
    """

    def fail(message: str) -> SpecialTokenError:
        return SpecialTokenError(message, path=path, line=line)

    if isinstance(specials, Mapping):
        pairs = list(specials.items())
    elif isinstance(specials, Sequence) and not isinstance(specials, str):
        pairs = []
        for item in specials:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise fail(
                    "specials should be a mapping role → token such as "
                    f'{{"pad": "<pad>", "unk": "<unk>"}}, but got the item {item!r}'
                )
            pairs.append((item[0], item[1]))
    else:
        raise fail(
            "specials should be a mapping role → token such as "
            f'{{"pad": "<pad>", "unk": "<unk>"}}, but got {type(specials).__name__}'
        )
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for role, token in pairs:
        if role not in SPECIAL_ROLES:
            raise fail(
                f"unknown special name {role!r}; the known names are {', '.join(SPECIAL_ROLES)}"
            )
        if role in out:
            raise fail(f"the special {role!r} is given twice; give each role once")
        if not isinstance(token, str) or not token:
            raise fail(f"the special {role!r} should be a non-empty str, but got {token!r}")
        if token in owner:
            raise fail(
                f"the specials {owner[token]!r} and {role!r} share the token {token!r}; "
                "each special needs its own token"
            )
        out[role] = token
        owner[token] = role
    for role in _REQUIRED:
        if role not in out:
            raise fail(
                f"the special {role!r} is missing (got {list(out)}); a vocabulary needs "
                "'pad' for padding and 'unk' for unknown tokens"
            )
    return out


def special_id_of(special_ids: Mapping[str, int], role: str) -> int:
    """The id of the special ``role`` in a vocabulary's role → id map, or a
    ``SpecialTokenError`` that says which roles it has."""
    if role not in SPECIAL_ROLES:
        raise SpecialTokenError(
            f"unknown special name {role!r}; the known names are {', '.join(SPECIAL_ROLES)}"
        )
    if role not in special_ids:
        raise SpecialTokenError(
            f"this vocabulary has no {role!r} special (it has "
            f"{', '.join(special_ids)}); build it with specials=... including "
            f"{role!r}"
        )
    return special_ids[role]


class SpecialIds:
    """The special-token accessors of a vocabulary (a mixin: needs ``_specials`` and
    ``_special_ids``, role → token and role → id, in id order)."""

    _specials: dict[str, str]
    _special_ids: dict[str, int]

    @property
    def specials(self) -> dict[str, str]:
        """Role → token, in id order."""
        return dict(self._specials)

    @property
    def special_ids(self) -> dict[str, int]:
        """Role → id."""
        return dict(self._special_ids)

    def special_id(self, role: str) -> int:
        """The id of the special ``role`` (``"pad"``, ``"unk"``, ``"sos"``, ``"eos"``, …)."""
        return special_id_of(self._special_ids, role)

    @property
    def pad_id(self) -> int:
        return self.special_id("pad")

    @property
    def unk_id(self) -> int:
        return self.special_id("unk")

    @property
    def sos_id(self) -> int:
        return self.special_id("sos")

    @property
    def eos_id(self) -> int:
        return self.special_id("eos")
