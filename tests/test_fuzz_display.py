"""Property-based tests of the CLI's prose helpers: :func:`nudge.display.wrapped` and
:func:`nudge.display.number`.

``wrapped``: whatever the text (several lines, runs of spaces, long words, formulas,
numbers), its words come out in order and unchanged, its spaces too except at a break; a
line that fits is kept; a break falls only where :func:`~nudge.display._glued` allows
one and only where the next piece would not fit; a line over :data:`WIDTH` holds one
piece; the first line keeps its indent, the rest take ``hang``; no trailing spaces or
empty lines are made; wrapping again changes nothing.

``number``: ``format(value, spec)`` except that a value that rounds to zero is never shown
with a minus sign (the ``z`` option of Python 3.11's format, for Python 3.10 too).
"""

from __future__ import annotations

import math
import re
import string
import sys

import pytest
from fuzzing import examples
from hypothesis import example, given
from hypothesis import strategies as st

from nudge.display import WIDTH, _glued, number, wrapped

FAST, SLOW = examples(200), examples(3000)

#: printable characters other than the space (``str.isprintable``'s definition)
_VISIBLE = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
words = st.one_of(
    st.sampled_from(["=", "+-", "/", "*", ".", "|", "->", "<=", "-", "a_k", "lambda_max",
                     "neuron", "examples,", "rate:", "x;", "(n", "sqrt((n", "B)/(B(n", "C",
                     "grad", "saved", "...", "0.72", "13,002", "+3.82e-01", "-1.36e-01"]),
    st.floats(allow_nan=False).map(lambda f: f"{f:.4g}"),
    st.integers(-10**7, 10**7).map(lambda n: f"{n:,}"),
    st.text(string.ascii_letters + "_(),:;", min_size=1, max_size=10),
    st.text(_VISIBLE, min_size=1, max_size=8),
    st.text(string.ascii_letters, min_size=40, max_size=120),        # longer than most lines
)
gaps = st.integers(1, 4).map(" ".__mul__)


@st.composite
def lines(draw) -> str:
    """One line: an indent, words between runs of spaces, maybe trailing spaces."""
    body = draw(st.lists(st.tuples(gaps, words), max_size=40))
    line = " " * draw(st.integers(0, 12)) + "".join(g + w for g, w in body)[1:]
    return line + " " * draw(st.sampled_from([0, 0, 0, 1, 3, 90]))


texts = st.lists(lines(), min_size=1, max_size=4).map("\n".join)
hangs = st.one_of(st.none(), st.integers(0, 30))


def _words(text: str) -> list[str]:
    return re.findall(r"[^ \n]+", text)


def _check_line(line: str, out: list[str], hang: int | None) -> None:
    """The properties of ``out``, the lines ``wrapped`` made of one input ``line``."""
    if len(line) <= WIDTH:
        assert out == [line]                                     # what fits is kept
        return
    body = line.strip(" ")
    indent = len(line) - len(line.lstrip(" "))
    hang = indent + 2 if hang is None else hang
    if not body:                                                 # spaces only
        assert out == [""]
        return
    assert all(o and not o.endswith(" ") for o in out), out      # nothing empty or trailing
    assert out[0] == " " * indent + out[0].lstrip(" ")
    assert all(o == " " * hang + o.lstrip(" ") for o in out[1:]), (hang, out)
    # the output's pieces, with the gaps at the breaks put back, are the line's body
    contents, rest, breaks = [o.lstrip(" ") for o in out], body, []
    for i, content in enumerate(contents):
        assert rest.startswith(content), (content, rest)
        rest = rest[len(content):]
        gap = rest[:len(rest) - len(rest.lstrip(" "))] if i < len(contents) - 1 else ""
        assert (gap != "") == (i < len(contents) - 1), (rest, out)  # broken between words
        breaks.append(gap)
        rest = rest[len(gap):]
    assert rest == ""
    first_gap = len(body.split(" ", 1)[0])                       # "saved PATH" stays whole

    def pieces(i: int) -> list[str]:
        """Output line i's content cut where a break is allowed."""
        parts = re.split(r"( +)", contents[i])
        cut = [parts[0]]
        for gap, word in zip(parts[1::2], parts[2::2]):
            glued = _glued(cut[-1].rsplit(" ", 1)[-1], word) or (i == 0 and len(cut) == 1
                                                                  and len(cut[0]) == first_gap)
            cut[-1:] = [cut[-1] + gap + word] if glued else [cut[-1], word]
        return cut

    for i, o in enumerate(out):
        if len(o) > WIDTH:                                       # only an unbreakable piece
            assert len(pieces(i)) == 1, (o, pieces(i))
        if i < len(out) - 1:                                     # a break where it must be
            before, word = contents[i].rsplit(" ", 1)[-1], contents[i + 1].split(" ", 1)[0]
            assert not _glued(before, word), (before, word)
            assert not (i == 0 and len(contents[0]) == first_gap), out
            assert len(o) + len(breaks[i]) + len(pieces(i + 1)[0]) > WIDTH, (o, out[i + 1])


def _check(text: str, hang: int | None) -> None:
    out = wrapped(text, hang)
    assert _words(out) == _words(text)                           # same words, same order
    per_line = [wrapped(line, hang) for line in text.split("\n")]
    assert out == "\n".join(per_line)                            # each line on its own
    for line, lines_out in zip(text.split("\n"), per_line):
        _check_line(line, lines_out.split("\n"), hang)
    assert wrapped(out, hang) == out                             # wrapping again: no change


@FAST
@given(texts, hangs)
@example(" " * 100, None)
@example("a " + "x" * 100 + " y", None)
@example("  label        " + "word " * 30, 15)
@example(" ".join(str(n) for n in range(60)), None)
def test_wrapped_keeps_words_and_breaks_only_where_it_may(text, hang):
    _check(text, hang)


@pytest.mark.slow
@SLOW
@given(texts, hangs)
def test_wrapped_keeps_words_and_breaks_only_where_it_may_slow(text, hang):
    _check(text, hang)


#: format specs built from their parts, so that the ``z`` option can be put in its place
specs = st.tuples(
    st.sampled_from(["", "<", ">", "^", "=", "*>", "0=", "1>", "e<", " ^"]),
    st.sampled_from(["", "+", "-", " "]),
    st.sampled_from(["", "0"]),
    st.sampled_from(["", "8", "12"]),
    st.sampled_from(["", ",", "_"]),
    st.sampled_from(["", ".0", ".2", ".4"]),
    st.sampled_from(["", "e", "E", "f", "F", "g", "G", "%"]),
)
values = st.one_of(st.floats(), st.floats(-1e-3, 1e-3), st.sampled_from([-0.0, -1e-300]))


def _number_oracle(value: float, parts: tuple[str, ...]) -> str:
    """``format`` with the ``z`` option (Python 3.11+); on 3.10 its rule by hand: a value
    that formats as -0.0 does is shown as 0.0 is."""
    align, sign, zero, width, group, precision, kind = parts
    if sys.version_info >= (3, 11):
        return format(value, f"{align}{sign}z{zero}{width}{group}{precision}{kind}")
    spec = "".join(parts)
    rounded = format(value, spec)
    return format(0.0, spec) if rounded == format(-0.0, spec) else rounded


def _check_number(value: float, parts: tuple[str, ...]) -> None:
    spec = "".join(parts)
    try:
        expected = _number_oracle(value, parts)
    except ValueError:                           # a spec format refuses ("0=" with ",")
        with pytest.raises(ValueError):
            number(value, spec)
        return
    text = number(value, spec)
    assert text == expected, (value, spec, text, expected)
    if format(value, spec) == format(-0.0, spec):               # rounded to zero: no minus
        assert "-" not in text, (value, spec, text)
    elif math.isfinite(value):                                   # anything else: format's
        assert text == format(value, spec), (value, spec, text)
    if math.isnan(value):
        assert "nan" in text.lower() and "-" not in text


@FAST
@given(values, specs)
@example(-1e-9, ("1>", "", "", "8", "", ".2", "f"))               # was "111-0.00"
@example(-1.5, ("e>", "", "", "8", "", ".2", "f"))                # was "eeee0.00"
@example(-0.0, ("", "+", "", "", "", ".3", "e"))
@example(float("-inf"), ("", "+", "", "", "", ".3", "e"))
def test_number_is_format_without_a_negative_zero(value, parts):
    _check_number(value, parts)


@pytest.mark.slow
@SLOW
@given(values, specs)
def test_number_is_format_without_a_negative_zero_slow(value, parts):
    _check_number(value, parts)
